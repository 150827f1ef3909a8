# Retention analytics: the Analytics pages (analytics-*) and customers' predictions (customer-analytics-*, segment-*).


## A customer's predictions: the profile and the customer list

customer-analytics-title = Կանխատեսումներ
customer-analytics-p-alive = Դեռ ակտիվ լինելու հավանականություն
customer-analytics-predicted-purchases = Սպասվող գնումներ (12 ամիս)
customer-analytics-clv = Կանխատեսվող արժեք (12 ամիս)
customer-analytics-next-purchase = Հաջորդ գնումը սպասվում է
customer-analytics-next-purchase-none = 12 ամսվա ընթացքում չի սպասվում
customer-analytics-rfm = RFM գնահատական
customer-analytics-rfm-help = Վերջին գնման թարմությունը, գնումների հաճախականությունը և ծախսած գումարը՝ յուրաքանչյուրը 1-ից (ամենացածր) մինչև 5 (լավագույն)՝ խանութի մյուս հաճախորդների համեմատ։
customer-analytics-segment = Սեգմենտ
customer-analytics-vip = VIP
customer-analytics-as-of = { $time }-ի դրությամբ
customer-analytics-none = Կանխատեսումներ դեռ չկան. դրանք կհայտնվեն, երբ հաճախորդը գնում կատարի, և խանութի վերլուծությունն աշխատի։
customer-analytics-no-model = Խանութը դեռ չունի բավարար կրկնակի գնորդներ՝ գնումները կանխատեսելու համար. ցուցադրված են RFM գնահատականները։
customer-analytics-sort-clv = Կանխատեսվող արժեք
customer-analytics-sort-p-alive = Ակտիվ լինելու հավանականություն
customer-analytics-field-vip = Միայն VIP-ները
segment-champions = Չեմպիոններ
segment-loyal-customers = Հավատարիմ հաճախորդներ
segment-potential-loyalist = Պոտենցիալ հավատարիմներ
segment-new-customers = Նոր հաճախորդներ
segment-promising = Խոստումնալից
segment-need-attention = Ուշադրության կարիք ունեն
segment-about-to-sleep = Քնելու եզրին
segment-at-risk = Վտանգի տակ
segment-cant-lose-them = Չենք կարող կորցնել
segment-hibernating = Ձմեռային քնի մեջ
segment-lost = Կորսված
## Վերլուծության էջերը

analytics-nav = Վերլուծություն
analytics-title = Վերլուծություն
analytics-computed = Տվյալները՝ { $time } դրությամբ
analytics-jump = Այս էջում
analytics-empty = Պատվերներ դեռ չկան. թվերը կհայտնվեն առաջին պատվերների հետ։
analytics-no-data = Տվյալները դեռ բավարար չեն

analytics-kpis = Հաճախորդներին պահելու KPI-ներ
analytics-kpi-repeat_purchase_rate = Կրկնակի գնումների տոկոս
analytics-kpi-retention_rate = Պահպանման տոկոս
analytics-kpi-churn_rate = Կորստի տոկոս
analytics-kpi-purchase_frequency = Գնումների հաճախականություն
analytics-kpi-average_order_value = Պատվերի միջին արժեք
analytics-kpi-historic_clv = Հաճախորդի արժեքը մինչ այժմ
analytics-kpi-repeat_purchase_rate-help = Երբևէ պատվիրածներից նրանք, ովքեր պատվիրել են առնվազն երկու անգամ։
analytics-kpi-retention_rate-help = { $month } ամսին գնած հաճախորդներից ({ $customers }) նրանք, ովքեր կրկին գնել են { $next } ամսին։
analytics-kpi-churn_rate-help = { $month } ամսին գնած հաճախորդներից ({ $customers }) նրանք, ովքեր չեն գնել { $next } ամսին։
analytics-kpi-purchase_frequency-help = Պատվերներ մեկ հաճախորդի հաշվով վերջին 365 օրում։
analytics-kpi-average_order_value-help = Հասույթ մեկ պատվերի հաշվով վերջին 365 օրում՝ առանց վերադարձների։
analytics-kpi-historic_clv-help = Հասույթ մեկ հաճախորդի հաշվով առաջին պատվերից ի վեր՝ առանց վերադարձների։
analytics-target = Թիրախ՝ { $value }
analytics-target-none = Թիրախ սահմանված չէ
analytics-target-set-by = սահմանել է { $who }-ը, { $date }
analytics-status-met = Կատարված է
analytics-status-behind = Հետ է մնում
analytics-targets-set = Սահմանել թիրախներ
analytics-targets-help = Տոկոսները գրեք տոկոսներով, գնումների հաճախականությունը՝ պատվերներով մեկ հաճախորդի հաշվով, գումարները՝ խանութի արժույթով։ Թիրախը հանելու համար դաշտը թողեք դատարկ։ Յուրաքանչյուր փոփոխություն պահվում է՝ նշելով, թե ով է այն կատարել։
analytics-targets-save = Պահպանել թիրախները
analytics-targets-saved = Թիրախները պահպանված են։
analytics-error-number = Գրեք թիվ, օրինակ՝ { $example }։
analytics-error-negative = Թիրախը չի կարող բացասական լինել։
analytics-error-above-100 = Տոկոսը չի կարող 100 %-ից բարձր լինել։

analytics-cohorts = Խմբերի պահպանում
analytics-cohorts-help = Հաճախորդները խմբավորված են ըստ առաջին պատվերի ամսի։ Յուրաքանչյուր վանդակում խմբի այն մասն է, որ գնել է այդքան ամիս անց. 0-րդ ամիսը առաջին պատվերի ամիսն է։ Այս ամիսը դեռ ընթացքի մեջ է։
analytics-cohorts-revenue-help = Հաճախորդները խմբավորված են ըստ առաջին պատվերի ամսի։ Յուրաքանչյուր վանդակում այն է, ինչ խումբը ծախսել է այդ ամսին՝ առանց վերադարձների։ Այս ամիսը դեռ ընթացքի մեջ է։
analytics-cohorts-show = Ցույց տալ
analytics-cohorts-customers = Հաճախորդներ
analytics-cohorts-revenue = Հասույթ
analytics-cohort-month = Առաջին պատվեր
analytics-cohort-size = Հաճախորդներ
analytics-cohort-offset = Ամիս { $n }
analytics-cohort-cell = հաճախորդներ՝ { $customers }՝ { $size }-ից, ծախսել են՝ { $revenue }

analytics-curve = Պահպանման կոր
analytics-curve-help = Այն հաճախորդների մասը, ովքեր կրկին գնում են առաջին պատվերի ամսից այդքան ամիս անց՝ միայն ավարտված ամիսներով։
analytics-curve-average = Ամսական խմբերի միջինը
analytics-curve-weighted = Բոլոր հաճախորդները միասին
analytics-curve-months = Ամիսներ առաջին պատվերից հետո

analytics-rfm = RFM հատվածներ
analytics-rfm-help = Գնած յուրաքանչյուր հաճախորդ այսօր գնահատվում է 1-ից 5՝ մյուս հաճախորդների համեմատ, ըստ վերջին գնման թարմության (R), հաճախականության (F) և ծախսած գումարի (M)։ Տողերը F-ի և M-ի միջինն են։
analytics-rfm-recency = Թարմություն (R)
analytics-rfm-fm = Հաճախականություն և գումար (F+M)
analytics-rfm-segment = Հատված
analytics-rfm-customers = Հաճախորդներ
analytics-rfm-share = Մասնաբաժին
analytics-rfm-value = Ծախսել են
analytics-rfm-average = Մեկ հաճախորդի հաշվով
analytics-rfm-cell = հաճախորդներ՝ { $customers }, ծախսել են՝ { $value }
analytics-rfm-vips = VIP-ներ՝ { $count } հաճախորդ, ծախսով առաջին 5 %-ը ({ $amount }-ից)։

analytics-value = Հաճախորդի արժեք
analytics-value-help-predicted = Յուրաքանչյուր հաճախորդի առաջիկա 12 ամիսների կանխատեսված արժեքը (CLV)՝ ըստ խանութի գնումների և ծախսի մոդելների։
analytics-value-help-historic = Որքան է յուրաքանչյուր հաճախորդ ծախսել մինչ այժմ (պատմական արժեք)։ Խանութի մոդելները կառուցվելուց հետո այն կփոխարինեն կանխատեսումները։
analytics-value-customers = Հաճախորդներ
analytics-value-range = Արժեք
analytics-value-mean = Միջինը՝ { $amount }
analytics-value-median = Մեդիանը՝ { $amount }
analytics-value-above = { $amount } և ավելի
analytics-value-zero = Ոչինչ

analytics-backtest = Կանխատեսված և իրական գնումներ
analytics-backtest-help = Գնումների մոդելը (MMBG/NBD), կառուցված մինչև { $date } պատվերների վրա, կանխատեսել է, թե այդ հաճախորդները ({ $customers }) հաջորդ { $weeks } շաբաթներից յուրաքանչյուրում քանի անգամ կգնեն կրկին. կողքին՝ այն, ինչ նրանք իրականում գնել են։
analytics-backtest-actual = Իրական
analytics-backtest-predicted = Կանխատեսված
analytics-backtest-week = Շաբաթը սկսվում է
analytics-backtest-totals = { $weeks } շաբաթում՝ { $actual } գնում, կանխատեսված՝ { $predicted }։
analytics-backtest-not-enough = Պատմությունը դեռ բավարար չէ. մոդելին պետք են 12 շաբաթվա պատվերներ վերջին 13 շաբաթից առաջ։
analytics-backtest-no-repeat = Դեռ ոչ ոք երկրորդ անգամ չի գնել, ուստի կանխատեսելու բան չկա։
analytics-backtest-failed = Այս խանութի պատվերների վրա մոդելը հնարավոր չեղավ կառուցել։

analytics-acquisition = Հաճախորդ ձեռք բերելու արժեքը և հաճախորդի արժեքը ըստ ալիքի
analytics-acquisition-help = { $from }-ից { $to }՝ ստորև մուտքագրված ծախսը (իսկ եթե չկա՝ հաճախորդների վրա գրանցված ձեռքբերման արժեքը) այն հաճախորդների դիմաց, որոնց առաջին պատվերը եղել է այդ ամիսներին։ Արժեքն այն է, ինչ հաճախորդը ծախսել է իր առաջին տարում (առնվազն մեկ տարի առաջ եկած հաճախորդներ), իսկ այլապես՝ մինչ այժմ։
analytics-channel = Ալիք
analytics-channel-none = Գրանցված չէ
analytics-channel-all = Բոլոր ալիքները
analytics-new-customers = Նոր հաճախորդներ
analytics-spend = Ծախս
analytics-spend-recorded = գրանցված հաճախորդների վրա
analytics-cac = Մեկ հաճախորդի արժեքը (CAC)
analytics-ltv = Հաճախորդի արժեքը (LTV)
analytics-ltv-so-far = մինչ այժմ
analytics-ltv-cac = LTV : CAC
analytics-payback = CAC-ը փոխհատուցելու ամիսներ
analytics-spend-form = Մուտքագրել ամսական ծախսը
analytics-spend-channel = Ալիք
analytics-spend-month = Ամիս
analytics-spend-amount = Գումար ({ $currency })
analytics-spend-help = Ալիքի նույն ամիսը կրկին մուտքագրելիս գումարը փոխարինվում է. այն հեռացնելու համար գումարը թողեք դատարկ։
analytics-spend-save = Պահպանել ծախսը
analytics-spend-saved = Ծախսը պահպանված է։
analytics-spend-entered = Մուտքագրված ծախս
analytics-spend-none = Ծախս դեռ մուտքագրված չէ։
analytics-spend-set-by = Մուտքագրել է
analytics-error-channel = Գրեք ալիքի անունը (մինչև 60 նիշ)։
analytics-error-month = Ընտրեք ամիսը։
analytics-error-amount = Գրեք գումար, օրինակ՝ { $example }։
analytics-error-amount-negative = Ծախսը չի կարող բացասական լինել։
