# Retention analytics: the Analytics pages (analytics-*) and customers' predictions (customer-analytics-*, segment-*).

## విశ్లేషణ పేజీలు

analytics-nav = విశ్లేషణ
analytics-title = విశ్లేషణ
analytics-computed = { $time } నాటి గణాంకాలు
analytics-jump = ఈ పేజీలో
analytics-empty = ఇంకా ఆర్డర్లు లేవు: మొదటి ఆర్డర్లు రాగానే గణాంకాలు కనిపిస్తాయి.
analytics-no-data = ఇంకా తగినంత సమాచారం లేదు

analytics-kpis = కస్టమర్లను నిలుపుకునే KPIలు
analytics-kpi-repeat_purchase_rate = మళ్ళీ కొనుగోలు రేటు
analytics-kpi-retention_rate = నిలుపుదల రేటు
analytics-kpi-churn_rate = కస్టమర్లు వదిలిపోయే రేటు
analytics-kpi-purchase_frequency = కొనుగోలు తరచుదనం
analytics-kpi-average_order_value = సగటు ఆర్డర్ విలువ
analytics-kpi-historic_clv = ఇప్పటివరకు కస్టమర్ విలువ
analytics-kpi-repeat_purchase_rate-help = ఎప్పుడైనా ఆర్డర్ చేసిన వారిలో కనీసం రెండుసార్లు ఆర్డర్ చేసిన కస్టమర్లు.
analytics-kpi-retention_rate-help = { $month }లో కొన్న కస్టమర్లలో ({ $customers }) { $next }లో మళ్ళీ కొన్నవారు.
analytics-kpi-churn_rate-help = { $month }లో కొన్న కస్టమర్లలో ({ $customers }) { $next }లో కొనని వారు.
analytics-kpi-purchase_frequency-help = గత 365 రోజుల్లో ఒక్కో కస్టమర్‌కు ఆర్డర్లు.
analytics-kpi-average_order_value-help = గత 365 రోజుల్లో ఒక్కో ఆర్డర్‌కు ఆదాయం, రీఫండ్‌లు తీసివేసి.
analytics-kpi-historic_clv-help = మొదటి ఆర్డర్ నుంచి ఒక్కో కస్టమర్‌కు ఆదాయం, రీఫండ్‌లు తీసివేసి.
analytics-target = లక్ష్యం: { $value }
analytics-target-none = లక్ష్యం పెట్టలేదు
analytics-target-set-by = { $date }న { $who } పెట్టారు
analytics-status-met = చేరుకున్నాం
analytics-status-behind = వెనుకబడి ఉంది
analytics-targets-set = లక్ష్యాలు పెట్టండి
analytics-targets-help = రేట్లు శాతంలో, కొనుగోలు తరచుదనం ఒక్కో కస్టమర్‌కు ఆర్డర్లలో, డబ్బు స్టోర్ కరెన్సీలో రాయండి. లక్ష్యాన్ని తీసేయడానికి దాని ఖాళీని వదిలేయండి. ప్రతి మార్పు, ఎవరు చేశారో దానితో సహా, భద్రంగా ఉంటుంది.
analytics-targets-save = లక్ష్యాలు సేవ్ చేయండి
analytics-targets-saved = లక్ష్యాలు సేవ్ అయ్యాయి.
analytics-error-number = ఒక సంఖ్య రాయండి, ఉదా. { $example }.
analytics-error-negative = లక్ష్యం రుణాత్మకం కాకూడదు.
analytics-error-above-100 = రేటు 100 % కంటే ఎక్కువ ఉండకూడదు.

analytics-cohorts = సమూహాల వారీగా నిలుపుదల
analytics-cohorts-help = కస్టమర్లను వారి మొదటి ఆర్డర్ నెల ప్రకారం సమూహాలుగా చూపించాం. ప్రతి గడిలో అన్ని నెలల తర్వాత కొన్న సమూహ భాగం ఉంటుంది; నెల 0 అంటే మొదటి ఆర్డర్ నెల. ఈ నెల ఇంకా పూర్తి కాలేదు.
analytics-cohorts-revenue-help = కస్టమర్లను వారి మొదటి ఆర్డర్ నెల ప్రకారం సమూహాలుగా చూపించాం. ప్రతి గడిలో ఆ నెలలో సమూహం ఖర్చు చేసినది ఉంటుంది, రీఫండ్‌లు తీసివేసి. ఈ నెల ఇంకా పూర్తి కాలేదు.
analytics-cohorts-show = చూపించు
analytics-cohorts-customers = కస్టమర్లు
analytics-cohorts-revenue = ఆదాయం
analytics-cohort-month = మొదటి ఆర్డర్
analytics-cohort-size = కస్టమర్లు
analytics-cohort-offset = నెల { $n }
analytics-cohort-cell = కస్టమర్లు: { $size } లో { $customers }, ఖర్చు: { $revenue }

analytics-curve = నిలుపుదల వక్రరేఖ
analytics-curve-help = మొదటి ఆర్డర్ నెల తర్వాత ఇన్ని నెలలకు మళ్ళీ కొనే కస్టమర్ల భాగం, పూర్తయిన నెలలపై మాత్రమే.
analytics-curve-average = నెలవారీ సమూహాల సగటు
analytics-curve-weighted = కస్టమర్లందరూ కలిపి
analytics-curve-months = మొదటి ఆర్డర్ తర్వాతి నెలలు

analytics-rfm = RFM విభాగాలు
analytics-rfm-help = కొన్న ప్రతి కస్టమర్‌కు, మిగతా కస్టమర్లతో పోల్చి, ఈరోజు ఇటీవలి కొనుగోలు (R), తరచుదనం (F), ఖర్చు చేసిన మొత్తం (M)పై 1 నుంచి 5 వరకు మార్కులు ఇస్తాం. వరుసలు F, M ల సగటు.
analytics-rfm-recency = ఇటీవలి కొనుగోలు (R)
analytics-rfm-fm = తరచుదనం, మొత్తం (F+M)
analytics-rfm-segment = విభాగం
analytics-rfm-customers = కస్టమర్లు
analytics-rfm-share = వాటా
analytics-rfm-value = ఖర్చు
analytics-rfm-average = ఒక్కో కస్టమర్‌కు
analytics-rfm-cell = కస్టమర్లు: { $customers }, ఖర్చు: { $value }
analytics-rfm-vips = VIPలు: { $count } కస్టమర్లు, ఖర్చులో మొదటి 5 % ({ $amount } నుంచి).

analytics-value = కస్టమర్ విలువ
analytics-value-help-predicted = స్టోర్ కొనుగోలు, ఖర్చు మోడళ్ల ప్రకారం ప్రతి కస్టమర్ రాబోయే 12 నెలల అంచనా విలువ (CLV).
analytics-value-help-historic = ప్రతి కస్టమర్ ఇప్పటివరకు ఖర్చు చేసినది (ఇప్పటివరకు విలువ). స్టోర్ మోడళ్లు తయారైన తర్వాత అంచనాలు దీని స్థానంలో వస్తాయి.
analytics-value-customers = కస్టమర్లు
analytics-value-range = విలువ
analytics-value-mean = సగటు: { $amount }
analytics-value-median = మధ్యగతం: { $amount }
analytics-value-above = { $amount } మరియు అంతకంటే ఎక్కువ
analytics-value-zero = ఏమీ లేదు

analytics-backtest = అంచనా, వాస్తవ కొనుగోళ్లు
analytics-backtest-help = కొనుగోలు మోడల్ (MMBG/NBD)ను { $date } వరకు ఉన్న ఆర్డర్లపై తయారు చేశాం; ఆ కస్టమర్లు ({ $customers }) తర్వాతి { $weeks } వారాల్లో ప్రతి వారం ఎన్నిసార్లు మళ్ళీ కొంటారో అది అంచనా వేసింది. పక్కనే వారు నిజంగా కొన్నది.
analytics-backtest-actual = వాస్తవం
analytics-backtest-predicted = అంచనా
analytics-backtest-week = వారం మొదలు
analytics-backtest-totals = { $weeks } వారాల్లో: { $actual } కొనుగోళ్లు, అంచనా { $predicted }.
analytics-backtest-not-enough = ఇంకా తగినంత చరిత్ర లేదు: గత 13 వారాలకు ముందు మోడల్‌కు 12 వారాల ఆర్డర్లు కావాలి.
analytics-backtest-no-repeat = ఇంకా ఎవరూ రెండోసారి కొనలేదు, కాబట్టి అంచనా వేయడానికి ఏమీ లేదు.
analytics-backtest-failed = ఈ స్టోర్ ఆర్డర్లపై మోడల్ తయారు కాలేదు.

analytics-acquisition = మాధ్యమం వారీగా కస్టమర్ సంపాదన ఖర్చు, కస్టమర్ విలువ
analytics-acquisition-help = { $from } నుంచి { $to } వరకు: కింద నమోదు చేసిన ఖర్చు (లేకపోతే కస్టమర్లపై నమోదైన సంపాదన ఖర్చు), ఈ నెలల్లో మొదటి ఆర్డర్ చేసిన కస్టమర్లతో పోల్చి. విలువ అంటే కస్టమర్ తన మొదటి ఏడాదిలో ఖర్చు చేసినది (కనీసం ఏడాది క్రితం వచ్చిన కస్టమర్లు), లేకపోతే ఇప్పటివరకు.
analytics-channel = మాధ్యమం
analytics-channel-none = నమోదు కాలేదు
analytics-channel-all = అన్ని మాధ్యమాలు
analytics-new-customers = కొత్త కస్టమర్లు
analytics-spend = ఖర్చు
analytics-spend-recorded = కస్టమర్లపై నమోదైనది
analytics-cac = ఒక్కో కస్టమర్ ఖర్చు (CAC)
analytics-ltv = కస్టమర్ విలువ (LTV)
analytics-ltv-so-far = ఇప్పటివరకు
analytics-ltv-cac = LTV : CAC
analytics-payback = CAC తిరిగి రావడానికి నెలలు
analytics-spend-form = నెలవారీ ఖర్చు నమోదు చేయండి
analytics-spend-channel = మాధ్యమం
analytics-spend-month = నెల
analytics-spend-amount = మొత్తం ({ $currency })
analytics-spend-help = ఒక మాధ్యమం అదే నెలను మళ్ళీ నమోదు చేస్తే మొత్తం మారుతుంది; తీసేయడానికి మొత్తాన్ని ఖాళీగా వదిలేయండి.
analytics-spend-save = ఖర్చు సేవ్ చేయండి
analytics-spend-saved = ఖర్చు సేవ్ అయ్యింది.
analytics-spend-entered = నమోదు చేసిన ఖర్చు
analytics-spend-none = ఇంకా ఖర్చు నమోదు కాలేదు.
analytics-spend-set-by = నమోదు చేసినవారు
analytics-error-channel = మాధ్యమం పేరు రాయండి (గరిష్ఠంగా 60 అక్షరాలు).
analytics-error-month = ఒక నెలను ఎంచుకోండి.
analytics-error-amount = ఒక మొత్తం రాయండి, ఉదా. { $example }.
analytics-error-amount-negative = ఖర్చు రుణాత్మకం కాకూడదు.

## A customer's predictions: the profile and the customer list

customer-analytics-title = అంచనాలు
customer-analytics-p-alive = ఇంకా చురుకుగా ఉండే అవకాశం
customer-analytics-predicted-purchases = అంచనా కొనుగోళ్లు (12 నెలలు)
customer-analytics-clv = అంచనా విలువ (12 నెలలు)
customer-analytics-next-purchase = తదుపరి కొనుగోలు అంచనా
customer-analytics-next-purchase-none = 12 నెలల్లో ఆశించడం లేదు
customer-analytics-rfm = RFM స్కోరు
customer-analytics-rfm-help = ఇటీవలి కొనుగోలు, కొనుగోళ్ల తరచుదనం, ఖర్చు చేసిన మొత్తం — ఒక్కొక్కటి స్టోర్‌లోని ఇతర కస్టమర్లతో పోల్చి 1 (అతి తక్కువ) నుండి 5 (అత్యుత్తమం) వరకు.
customer-analytics-segment = విభాగం
customer-analytics-vip = VIP
customer-analytics-as-of = { $time } నాటికి
customer-analytics-none = ఇంకా అంచనాలు లేవు: కస్టమర్ కొనుగోలు చేసి, స్టోర్ విశ్లేషణ నడిచిన తర్వాత అవి కనిపిస్తాయి.
customer-analytics-no-model = కొనుగోళ్లను అంచనా వేయడానికి స్టోర్‌లో ఇంకా తగినంత మంది మళ్లీ కొనే కస్టమర్లు లేరు; RFM స్కోర్లు చూపబడ్డాయి.
customer-analytics-sort-clv = అంచనా విలువ
customer-analytics-sort-p-alive = చురుకుగా ఉండే అవకాశం
customer-analytics-field-vip = VIPలు మాత్రమే
segment-champions = ఛాంపియన్లు
segment-loyal-customers = నమ్మకమైన కస్టమర్లు
segment-potential-loyalist = నమ్మకస్తులయ్యే అవకాశం ఉన్నవారు
segment-new-customers = కొత్త కస్టమర్లు
segment-promising = ఆశాజనకులు
segment-need-attention = శ్రద్ధ అవసరం
segment-about-to-sleep = నిద్రాణమయ్యే దశలో
segment-at-risk = ప్రమాదంలో ఉన్నవారు
segment-cant-lose-them = వీరిని కోల్పోలేం
segment-hibernating = నిద్రాణులు
segment-lost = కోల్పోయినవారు
