# Retention analytics: the Analytics pages (analytics-*) and customers' predictions (customer-analytics-*, segment-*).

## The Analytics pages

analytics-nav = Analytics
analytics-title = Analytics
analytics-computed = Figures as of { $time }
analytics-jump = On this page
analytics-empty = No orders yet: the figures appear with the first orders.
analytics-no-data = Not enough data yet

analytics-kpis = Retention KPIs
analytics-kpi-repeat_purchase_rate = Repeat-purchase rate
analytics-kpi-retention_rate = Retention rate
analytics-kpi-churn_rate = Churn rate
analytics-kpi-purchase_frequency = Purchase frequency
analytics-kpi-average_order_value = Average order value
analytics-kpi-historic_clv = Historic customer value
analytics-kpi-repeat_purchase_rate-help = Customers who ordered at least twice, of everyone who ever ordered.
analytics-kpi-retention_rate-help = Of the customers who bought in { $month } ({ $customers }), those who bought again in { $next }.
analytics-kpi-churn_rate-help = Of the customers who bought in { $month } ({ $customers }), those who did not buy in { $next }.
analytics-kpi-purchase_frequency-help = Orders per customer in the last 365 days.
analytics-kpi-average_order_value-help = Revenue net of refunds per order in the last 365 days.
analytics-kpi-historic_clv-help = Revenue net of refunds per customer since their first order.
analytics-target = Target: { $value }
analytics-target-none = No target set
analytics-target-set-by = set by { $who } on { $date }
analytics-status-met = Met
analytics-status-behind = Behind
analytics-targets-set = Set targets
analytics-targets-help = Rates in per cent, purchase frequency in orders per customer, money in the store's currency. Leave a field empty to clear its target. Every change is kept with who made it.
analytics-targets-save = Save targets
analytics-targets-saved = Targets saved.
analytics-error-number = Enter a number, e.g. { $example }.
analytics-error-negative = A target cannot be negative.
analytics-error-above-100 = A rate cannot be above 100 %.

analytics-cohorts = Cohort retention
analytics-cohorts-help = Customers grouped by the month of their first order. Each cell is the share of the group who bought that many months later; month 0 is the month of the first order. This month is still filling.
analytics-cohorts-revenue-help = Customers grouped by the month of their first order. Each cell is what the group spent in that month, net of refunds. This month is still filling.
analytics-cohorts-show = Show
analytics-cohorts-customers = Customers
analytics-cohorts-revenue = Revenue
analytics-cohort-month = First order
analytics-cohort-size = Customers
analytics-cohort-offset = Month { $n }
analytics-cohort-cell = customers: { $customers } of { $size }, spent: { $revenue }

analytics-curve = Retention curve
analytics-curve-help = The share of customers who buy again a given number of months after the month of their first order, over complete months.
analytics-curve-average = Average of the monthly groups
analytics-curve-weighted = All customers together
analytics-curve-months = Months after the first order

analytics-rfm = RFM segments
analytics-rfm-help = Every customer who bought is scored today from 1 to 5 on recency (R), frequency (F) and money spent (M), against the other customers. Rows are the average of F and M.
analytics-rfm-recency = Recency (R)
analytics-rfm-fm = Frequency and money (F+M)
analytics-rfm-segment = Segment
analytics-rfm-customers = Customers
analytics-rfm-share = Share
analytics-rfm-value = Spent
analytics-rfm-average = Per customer
analytics-rfm-cell = customers: { $customers }, spent: { $value }
analytics-rfm-vips = VIPs: { $count } customers, the top 5 % by spend (from { $amount }).

analytics-value = Customer value
analytics-value-help-predicted = The predicted value of each customer's next 12 months (CLV), from the store's purchase and spend models.
analytics-value-help-historic = What each customer has spent so far (historic value). Predictions replace it once the store's models are fitted.
analytics-value-customers = Customers
analytics-value-range = Value
analytics-value-mean = Average: { $amount }
analytics-value-median = Median: { $amount }
analytics-value-above = { $amount } and more
analytics-value-zero = Nothing

analytics-backtest = Predicted and actual purchases
analytics-backtest-help = The purchase model (MMBG/NBD), fitted on the orders up to { $date }, predicted how often those customers ({ $customers }) would buy again in each of the { $weeks } weeks after; beside it, what they really bought.
analytics-backtest-actual = Actual
analytics-backtest-predicted = Predicted
analytics-backtest-week = Week from
analytics-backtest-totals = Over { $weeks } weeks: { $actual } purchases, { $predicted } predicted.
analytics-backtest-not-enough = Not enough history yet: the model needs 12 weeks of orders before the last 13 weeks.
analytics-backtest-no-repeat = Nobody has bought twice yet, so there is nothing to predict.
analytics-backtest-failed = The model could not be fitted to this store's orders.

analytics-acquisition = Acquisition cost and customer value by channel
analytics-acquisition-help = From { $from } to { $to }: the spend entered below (or else the acquisition cost recorded on customers) against the customers whose first order fell in those months. Value is what a customer spent in their first year (customers acquired at least a year ago), or else so far.
analytics-channel = Channel
analytics-channel-none = Not recorded
analytics-channel-all = All channels
analytics-new-customers = New customers
analytics-spend = Spend
analytics-spend-recorded = recorded on customers
analytics-cac = Cost per customer (CAC)
analytics-ltv = Customer value (LTV)
analytics-ltv-so-far = so far
analytics-ltv-cac = LTV : CAC
analytics-payback = Months to recover CAC
analytics-spend-form = Enter monthly spend
analytics-spend-channel = Channel
analytics-spend-month = Month
analytics-spend-amount = Amount ({ $currency })
analytics-spend-help = Entering a channel's month again replaces its amount; leave the amount empty to remove it.
analytics-spend-save = Save spend
analytics-spend-saved = Spend saved.
analytics-spend-entered = Spend entered
analytics-spend-none = No spend entered yet.
analytics-spend-set-by = Entered by
analytics-error-channel = Name the channel (up to 60 characters).
analytics-error-month = Choose a month.
analytics-error-amount = Enter an amount such as { $example }.
analytics-error-amount-negative = Spend cannot be negative.

## A customer's predictions: the profile and the customer list

customer-analytics-title = Predictions
customer-analytics-p-alive = Chance still active
customer-analytics-predicted-purchases = Expected purchases (12 months)
customer-analytics-clv = Predicted value (12 months)
customer-analytics-next-purchase = Next purchase expected
customer-analytics-next-purchase-none = Not expected within 12 months
customer-analytics-rfm = RFM score
customer-analytics-rfm-help = Recency, frequency and money spent, each from 1 (lowest) to 5 (best) against the store's other customers.
customer-analytics-segment = Segment
customer-analytics-vip = VIP
customer-analytics-as-of = As of { $time }
customer-analytics-none = No predictions yet: they appear once the customer has bought and the store's analytics have run.
customer-analytics-no-model = The store does not have enough repeat buyers yet to predict purchases; RFM scores are shown.
customer-analytics-sort-clv = Predicted value
customer-analytics-sort-p-alive = Chance still active
customer-analytics-field-vip = VIPs only
segment-champions = Champions
segment-loyal-customers = Loyal Customers
segment-potential-loyalist = Potential Loyalist
segment-new-customers = New Customers
segment-promising = Promising
segment-need-attention = Need Attention
segment-about-to-sleep = About To Sleep
segment-at-risk = At Risk
segment-cant-lose-them = Can't Lose Them
segment-hibernating = Hibernating
segment-lost = Lost
