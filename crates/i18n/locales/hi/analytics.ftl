# Retention analytics: the Analytics pages (analytics-*) and customers' predictions (customer-analytics-*, segment-*).

## विश्लेषण के पृष्ठ

analytics-nav = विश्लेषण
analytics-title = विश्लेषण
analytics-computed = { $time } तक के आँकड़े
analytics-jump = इस पृष्ठ पर
analytics-empty = अभी कोई ऑर्डर नहीं है: पहले ऑर्डर आते ही आँकड़े दिखने लगेंगे।
analytics-no-data = अभी पर्याप्त डेटा नहीं

analytics-kpis = ग्राहकों को बनाए रखने के KPI
analytics-kpi-repeat_purchase_rate = दोबारा ख़रीद दर
analytics-kpi-retention_rate = ग्राहक बने रहने की दर
analytics-kpi-churn_rate = ग्राहक छूटने की दर
analytics-kpi-purchase_frequency = ख़रीद की आवृत्ति
analytics-kpi-average_order_value = औसत ऑर्डर मूल्य
analytics-kpi-historic_clv = अब तक का ग्राहक मूल्य
analytics-kpi-repeat_purchase_rate-help = जिन्होंने कभी भी ऑर्डर किया, उनमें से कम से कम दो बार ऑर्डर करने वाले ग्राहक।
analytics-kpi-retention_rate-help = { $month } में ख़रीदने वाले ग्राहकों ({ $customers }) में से जिन्होंने { $next } में फिर ख़रीदा।
analytics-kpi-churn_rate-help = { $month } में ख़रीदने वाले ग्राहकों ({ $customers }) में से जिन्होंने { $next } में नहीं ख़रीदा।
analytics-kpi-purchase_frequency-help = पिछले 365 दिनों में प्रति ग्राहक ऑर्डर।
analytics-kpi-average_order_value-help = पिछले 365 दिनों में प्रति ऑर्डर आय, रिफ़ंड घटाकर।
analytics-kpi-historic_clv-help = पहले ऑर्डर से अब तक प्रति ग्राहक आय, रिफ़ंड घटाकर।
analytics-target = लक्ष्य: { $value }
analytics-target-none = कोई लक्ष्य तय नहीं
analytics-target-set-by = { $who } ने { $date } को तय किया
analytics-status-met = पूरा हुआ
analytics-status-behind = पीछे
analytics-targets-set = लक्ष्य तय करें
analytics-targets-help = दरें प्रतिशत में, ख़रीद की आवृत्ति प्रति ग्राहक ऑर्डर में, और राशि स्टोर की मुद्रा में लिखें। किसी लक्ष्य को हटाने के लिए उसका ख़ाना ख़ाली छोड़ दें। हर बदलाव, बदलने वाले के नाम के साथ, सहेजा जाता है।
analytics-targets-save = लक्ष्य सहेजें
analytics-targets-saved = लक्ष्य सहेज लिए गए।
analytics-error-number = कोई संख्या लिखें, जैसे { $example }।
analytics-error-negative = लक्ष्य ऋणात्मक नहीं हो सकता।
analytics-error-above-100 = कोई दर 100 % से अधिक नहीं हो सकती।

analytics-cohorts = समूहों में ग्राहकों का बने रहना
analytics-cohorts-help = ग्राहकों को उनके पहले ऑर्डर के महीने के अनुसार समूहों में रखा गया है। हर ख़ाने में समूह का वह हिस्सा है जिसने इतने महीने बाद ख़रीदा; महीना 0 पहले ऑर्डर का महीना है। यह महीना अभी जारी है।
analytics-cohorts-revenue-help = ग्राहकों को उनके पहले ऑर्डर के महीने के अनुसार समूहों में रखा गया है। हर ख़ाने में उस महीने समूह का ख़र्च है, रिफ़ंड घटाकर। यह महीना अभी जारी है।
analytics-cohorts-show = दिखाएँ
analytics-cohorts-customers = ग्राहक
analytics-cohorts-revenue = आय
analytics-cohort-month = पहला ऑर्डर
analytics-cohort-size = ग्राहक
analytics-cohort-offset = महीना { $n }
analytics-cohort-cell = ग्राहक: { $size } में से { $customers }, ख़र्च: { $revenue }

analytics-curve = ग्राहक बने रहने का वक्र
analytics-curve-help = पहले ऑर्डर के महीने के इतने महीने बाद फिर से ख़रीदने वाले ग्राहकों का हिस्सा, केवल पूरे हो चुके महीनों पर।
analytics-curve-average = मासिक समूहों का औसत
analytics-curve-weighted = सभी ग्राहक एक साथ
analytics-curve-months = पहले ऑर्डर के बाद के महीने

analytics-rfm = RFM खंड
analytics-rfm-help = ख़रीद चुके हर ग्राहक को आज, बाक़ी ग्राहकों की तुलना में, हाल की ख़रीद (R), ख़रीद की आवृत्ति (F) और ख़र्च की गई राशि (M) पर 1 से 5 तक अंक मिलते हैं। पंक्तियाँ F और M का औसत हैं।
analytics-rfm-recency = हाल की ख़रीद (R)
analytics-rfm-fm = आवृत्ति और राशि (F+M)
analytics-rfm-segment = खंड
analytics-rfm-customers = ग्राहक
analytics-rfm-share = हिस्सा
analytics-rfm-value = ख़र्च
analytics-rfm-average = प्रति ग्राहक
analytics-rfm-cell = ग्राहक: { $customers }, ख़र्च: { $value }
analytics-rfm-vips = VIP: { $count } ग्राहक, ख़र्च के हिसाब से शीर्ष 5 % ({ $amount } से)।

analytics-value = ग्राहक मूल्य
analytics-value-help-predicted = स्टोर के ख़रीद और ख़र्च मॉडलों के अनुसार हर ग्राहक के अगले 12 महीनों का अनुमानित मूल्य (CLV)।
analytics-value-help-historic = हर ग्राहक ने अब तक कितना ख़र्च किया (अब तक का मूल्य)। स्टोर के मॉडल बन जाने पर अनुमान इसकी जगह ले लेंगे।
analytics-value-customers = ग्राहक
analytics-value-range = मूल्य
analytics-value-mean = औसत: { $amount }
analytics-value-median = माध्यिका: { $amount }
analytics-value-above = { $amount } और अधिक
analytics-value-zero = कुछ नहीं

analytics-backtest = अनुमानित और वास्तविक ख़रीद
analytics-backtest-help = ख़रीद मॉडल (MMBG/NBD) को { $date } तक के ऑर्डर पर बनाया गया; उसने अनुमान लगाया कि वे ग्राहक ({ $customers }) अगले { $weeks } सप्ताहों में से हर सप्ताह कितनी बार फिर ख़रीदेंगे। साथ में दिखाया है कि उन्होंने असल में कितना ख़रीदा।
analytics-backtest-actual = वास्तविक
analytics-backtest-predicted = अनुमानित
analytics-backtest-week = सप्ताह, आरंभ
analytics-backtest-totals = { $weeks } सप्ताहों में: { $actual } ख़रीद, अनुमान { $predicted }।
analytics-backtest-not-enough = अभी पर्याप्त इतिहास नहीं: मॉडल को पिछले 13 सप्ताहों से पहले के 12 सप्ताहों के ऑर्डर चाहिए।
analytics-backtest-no-repeat = अभी तक किसी ने दोबारा नहीं ख़रीदा, इसलिए अनुमान लगाने को कुछ नहीं है।
analytics-backtest-failed = इस स्टोर के ऑर्डर पर मॉडल नहीं बन सका।

analytics-acquisition = माध्यम के अनुसार ग्राहक पाने की लागत और ग्राहक मूल्य
analytics-acquisition-help = { $from } से { $to } तक: नीचे दर्ज किया गया ख़र्च (वह न हो तो ग्राहकों पर दर्ज अधिग्रहण लागत), उन ग्राहकों के मुक़ाबले जिनका पहला ऑर्डर इन महीनों में आया। मूल्य वह है जो ग्राहक ने अपने पहले वर्ष में ख़र्च किया (कम से कम एक वर्ष पहले आए ग्राहक), वरना अब तक का।
analytics-channel = माध्यम
analytics-channel-none = दर्ज नहीं
analytics-channel-all = सभी माध्यम
analytics-new-customers = नए ग्राहक
analytics-spend = ख़र्च
analytics-spend-recorded = ग्राहकों पर दर्ज
analytics-cac = प्रति ग्राहक लागत (CAC)
analytics-ltv = ग्राहक मूल्य (LTV)
analytics-ltv-so-far = अब तक
analytics-ltv-cac = LTV : CAC
analytics-payback = CAC वसूलने में महीने
analytics-spend-form = मासिक ख़र्च दर्ज करें
analytics-spend-channel = माध्यम
analytics-spend-month = महीना
analytics-spend-amount = राशि ({ $currency })
analytics-spend-help = किसी माध्यम का वही महीना फिर से दर्ज करने पर राशि बदल जाती है; उसे हटाने के लिए राशि ख़ाली छोड़ दें।
analytics-spend-save = ख़र्च सहेजें
analytics-spend-saved = ख़र्च सहेज लिया गया।
analytics-spend-entered = दर्ज किया गया ख़र्च
analytics-spend-none = अभी कोई ख़र्च दर्ज नहीं।
analytics-spend-set-by = दर्ज करने वाले
analytics-error-channel = माध्यम का नाम लिखें (अधिकतम 60 अक्षर)।
analytics-error-month = कोई महीना चुनें।
analytics-error-amount = राशि लिखें, जैसे { $example }।
analytics-error-amount-negative = ख़र्च ऋणात्मक नहीं हो सकता।

## A customer's predictions: the profile and the customer list

customer-analytics-title = पूर्वानुमान
customer-analytics-p-alive = अब भी सक्रिय होने की संभावना
customer-analytics-predicted-purchases = अपेक्षित ख़रीदारियाँ (12 महीने)
customer-analytics-clv = अनुमानित मूल्य (12 महीने)
customer-analytics-next-purchase = अगली ख़रीदारी की उम्मीद
customer-analytics-next-purchase-none = 12 महीनों में अपेक्षित नहीं
customer-analytics-rfm = RFM स्कोर
customer-analytics-rfm-help = हाल की ख़रीदारी, ख़रीदारी की आवृत्ति और ख़र्च की गई राशि — हर एक स्टोर के दूसरे ग्राहकों की तुलना में 1 (सबसे कम) से 5 (सबसे अच्छा) तक।
customer-analytics-segment = सेगमेंट
customer-analytics-vip = VIP
customer-analytics-as-of = { $time } की स्थिति
customer-analytics-none = अभी कोई पूर्वानुमान नहीं: ग्राहक की ख़रीदारी के बाद, स्टोर का विश्लेषण चलने पर ये दिखेंगे।
customer-analytics-no-model = ख़रीदारी का पूर्वानुमान लगाने के लिए स्टोर में अभी पर्याप्त दोबारा ख़रीदने वाले ग्राहक नहीं हैं; RFM स्कोर दिखाए गए हैं।
customer-analytics-sort-clv = अनुमानित मूल्य
customer-analytics-sort-p-alive = सक्रिय होने की संभावना
customer-analytics-field-vip = केवल VIP
segment-champions = चैंपियन
segment-loyal-customers = वफ़ादार ग्राहक
segment-potential-loyalist = संभावित वफ़ादार
segment-new-customers = नए ग्राहक
segment-promising = होनहार
segment-need-attention = ध्यान देने की ज़रूरत
segment-about-to-sleep = निष्क्रिय होने के क़रीब
segment-at-risk = जोखिम में
segment-cant-lose-them = इन्हें खो नहीं सकते
segment-hibernating = सुप्त
segment-lost = खोए हुए
