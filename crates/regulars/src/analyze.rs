//! `regulars analyze clv|rfm|cohorts`: retention analytics on a transaction file, without a
//! database.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use regulars_analytics::input::{self, Column, Delimiter, InputError, InputOptions, TransactionFile};
use regulars_analytics::metrics::{self, CohortMatrix, CustomerTotals, Rfm, Segment, VipRule};
use regulars_analytics::summary::{
    calibration_holdout, day_from_date, format_day, summarize, Bucket, CustomerSummary, SummaryError,
    SummaryOptions, Transaction,
};
use regulars_analytics::{
    clv, compress, BgNbd, Fit, FitOptions, GammaGamma, History, MbgNbd, ParetoNbd, PurchaseModel,
    SpendHistory, TimeUnit, Weighted,
};
use serde_json::{json, Value};

#[derive(Subcommand)]
pub enum AnalyzeCommand {
    /// Fit BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma; compare with a holdout period; write
    /// per-customer predictions.
    Clv(ClvArgs),
    /// RFM scores and the 11 customer segments, with store KPIs and VIPs.
    Rfm(InputArgs),
    /// Monthly retention and churn, the cohort matrix by first-order month, the retention curve.
    Cohorts(InputArgs),
}

#[derive(Args)]
pub struct InputArgs {
    /// The transaction file: one purchase per row.
    #[arg(long, value_name = "FILE")]
    transactions: PathBuf,
    /// The customer id column: a header name or a number from 1.
    #[arg(long, value_name = "C")]
    customer_col: String,
    /// The date column: a header name or a number from 1.
    #[arg(long, value_name = "D")]
    date_col: String,
    /// The amount column (a decimal number): a header name or a number from 1.
    #[arg(long, value_name = "A")]
    amount_col: String,
    /// strftime format of the dates, e.g. %Y%m%d or %d/%m/%Y; a time after the date is ignored.
    #[arg(long, value_name = "F", default_value = input::DEFAULT_DATE_FORMAT)]
    date_format: String,
    /// Field delimiter: one character, `tab`, or `whitespace` for runs of spaces and tabs.
    #[arg(long, value_name = "X", default_value = ",")]
    delimiter: String,
    /// The file has no header row: give columns by number.
    #[arg(long)]
    no_header: bool,
    /// Purchases in one period count once: day, week (Monday to Sunday) or month.
    #[arg(long, value_enum, default_value = "day")]
    bucket: BucketArg,
    /// The model time unit: day, week or month.
    #[arg(long, value_enum, default_value = "week")]
    unit: UnitArg,
    /// End of the calibration period (YYYY-MM-DD); later purchases up to --observation-end form
    /// the holdout period.
    #[arg(long, value_name = "YYYY-MM-DD")]
    calibration_end: Option<String>,
    /// Last day observed (YYYY-MM-DD); default: the last transaction's day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    observation_end: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ClvArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Write one row per customer (history, P(alive), expected purchases, spend, CLV, RFM).
    #[arg(long, value_name = "OUT.csv")]
    predictions: Option<PathBuf>,
    /// Prediction horizon in months.
    #[arg(long, value_name = "N", default_value_t = 12)]
    horizon: u32,
    /// Monthly discount rate for CLV.
    #[arg(long, default_value_t = 0.01)]
    discount_rate: f64,
    /// L2 penalty on the model parameters (as lifetimes' penalizer_coef).
    #[arg(long, default_value_t = 0.0)]
    penalizer: f64,
}

#[derive(Clone, Copy, ValueEnum)]
enum BucketArg {
    Day,
    Week,
    Month,
}

#[derive(Clone, Copy, ValueEnum)]
enum UnitArg {
    Day,
    Week,
    Month,
}

impl BucketArg {
    fn bucket(self) -> Bucket {
        match self {
            BucketArg::Day => Bucket::Day,
            BucketArg::Week => Bucket::Week,
            BucketArg::Month => Bucket::Month,
        }
    }
}

impl UnitArg {
    fn unit(self) -> TimeUnit {
        match self {
            UnitArg::Day => TimeUnit::Day,
            UnitArg::Week => TimeUnit::Week,
            UnitArg::Month => TimeUnit::Month,
        }
    }
}

fn unit_name(unit: TimeUnit) -> &'static str {
    match unit {
        TimeUnit::Day => "days",
        TimeUnit::Week => "weeks",
        TimeUnit::Month => "months",
    }
}

pub fn run(command: AnalyzeCommand) -> anyhow::Result<ExitCode> {
    match command {
        AnalyzeCommand::Clv(args) => clv_report(&args),
        AnalyzeCommand::Rfm(args) => rfm_report(&args),
        AnalyzeCommand::Cohorts(args) => cohorts_report(&args),
    }?;
    Ok(ExitCode::SUCCESS)
}

/// The file's transactions with the settings every report shares.
struct Loaded {
    file: TransactionFile,
    bucket: Bucket,
    unit: TimeUnit,
    calibration_end: Option<i32>,
    observation_end: i32,
}

impl Loaded {
    /// Transactions on or before `day`.
    fn through(&self, day: i32) -> Vec<Transaction> {
        self.file
            .transactions
            .iter()
            .filter(|t| t.day <= day)
            .copied()
            .collect()
    }

    fn id(&self, customer: u64) -> &str {
        &self.file.customers[customer as usize]
    }
}

fn parse_date_flag(flag: &str, value: &str) -> anyhow::Result<i32> {
    let value = value.trim();
    let parts: Vec<&str> = value.split('-').collect();
    let parsed = match parts.as_slice() {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            match (y.parse::<i32>(), m.parse::<u32>(), d.parse::<u32>()) {
                (Ok(y), Ok(m), Ok(d)) => day_from_date(y, m, d),
                _ => None,
            }
        }
        _ => None,
    };
    parsed.ok_or_else(|| anyhow!("{flag} {value:?} is not a date like 2024-03-31"))
}

fn load(args: &InputArgs) -> anyhow::Result<Loaded> {
    let column = |flag: &str, value: &str| -> anyhow::Result<Column> {
        value
            .parse::<Column>()
            .map_err(|e| anyhow!("{flag} {value:?}: {e}"))
    };
    let options = InputOptions {
        customer: column("--customer-col", &args.customer_col)?,
        date: column("--date-col", &args.date_col)?,
        amount: column("--amount-col", &args.amount_col)?,
        date_format: args.date_format.clone(),
        delimiter: args
            .delimiter
            .parse::<Delimiter>()
            .map_err(|e| anyhow!("--delimiter: {e}"))?,
        has_header: !args.no_header,
        max_bad_share: 0.5,
    };
    let calibration_end = args
        .calibration_end
        .as_deref()
        .map(|v| parse_date_flag("--calibration-end", v))
        .transpose()?;
    let observation_end = args
        .observation_end
        .as_deref()
        .map(|v| parse_date_flag("--observation-end", v))
        .transpose()?;

    let path = args.transactions.display().to_string();
    let file = match input::read_transactions(&args.transactions, &options) {
        Ok(file) => file,
        Err(InputError::TooManyBadRows {
            bad, rows, errors, ..
        }) => {
            print_row_errors(&errors, bad);
            bail!(
                "--transactions {path}: {bad} of {rows} rows are bad, more than half; check --customer-col, \
                 --date-col, --amount-col, --delimiter, --date-format and --no-header"
            );
        }
        Err(e) => {
            let flag = match &e {
                InputError::MissingColumn { field, .. }
                | InputError::NameWithoutHeader { field, .. }
                | InputError::ColumnOutOfRange { field, .. } => match *field {
                    "customer" => "--customer-col",
                    "date" => "--date-col",
                    _ => "--amount-col",
                },
                InputError::DateFormat { .. } => "--date-format",
                _ => "--transactions",
            };
            if flag == "--transactions" {
                bail!("--transactions {path}: {e}");
            }
            bail!("{flag}: {e}");
        }
    };
    if file.bad_rows > 0 {
        print_row_errors(&file.errors, file.bad_rows);
        eprintln!("{} of {} rows skipped (listed above).", file.bad_rows, file.rows);
    }
    let Some(last) = file.transactions.iter().map(|t| t.day).max() else {
        bail!("--transactions {path}: no transactions in the file");
    };
    let observation_end = observation_end.unwrap_or(last);
    if let Some(calibration_end) = calibration_end {
        if calibration_end >= observation_end {
            bail!(
                "--calibration-end {} must be before --observation-end {}",
                format_day(calibration_end),
                format_day(observation_end)
            );
        }
    }
    if !file.transactions.iter().any(|t| t.day <= observation_end) {
        bail!(
            "--observation-end {}: {}",
            format_day(observation_end),
            SummaryError::NoTransactions { end: observation_end }
        );
    }
    Ok(Loaded {
        file,
        bucket: args.bucket.bucket(),
        unit: args.unit.unit(),
        calibration_end,
        observation_end,
    })
}

fn print_row_errors(errors: &[input::RowError], bad_rows: u64) {
    for error in errors {
        eprintln!("{error}");
    }
    let listed_rows = errors
        .iter()
        .map(|e| e.line)
        .collect::<std::collections::BTreeSet<_>>()
        .len() as u64;
    if bad_rows > listed_rows {
        eprintln!("… and {} more bad rows", bad_rows - listed_rows);
    }
}

// ---------------------------------------------------------------------------------------------
// clv

struct Models {
    bg: Fit<BgNbd>,
    mbg: Fit<MbgNbd>,
    pareto: Fit<ParetoNbd>,
    gamma: Fit<GammaGamma>,
}

fn fit_models(summaries: &[CustomerSummary], rows: &[Weighted], penalizer: f64) -> anyhow::Result<Models> {
    let options = FitOptions {
        penalizer,
        ..FitOptions::default()
    };
    let bg = BgNbd::fit(rows, &options).context("fitting the BG/NBD model")?;
    let mbg = MbgNbd::fit(rows, &options).context("fitting the MBG/NBD model")?;
    let pareto = ParetoNbd::fit(rows, &options).context("fitting the Pareto/NBD model")?;
    let gamma =
        GammaGamma::fit(&spend_rows(summaries), &options).context("fitting the Gamma-Gamma spend model")?;
    Ok(Models {
        bg,
        mbg,
        pareto,
        gamma,
    })
}

/// Repeat buyers' (frequency, mean spend), identical pairs merged into one weighted row.
fn spend_rows(summaries: &[CustomerSummary]) -> Vec<SpendHistory> {
    let mut keys: Vec<(u64, u64)> = summaries
        .iter()
        .filter(|s| s.history.frequency > 0.0 && s.monetary > 0.0)
        .map(|s| (s.history.frequency.to_bits(), s.monetary.to_bits()))
        .collect();
    keys.sort_unstable();
    let mut rows: Vec<SpendHistory> = Vec::new();
    let mut previous = None;
    for key in keys {
        if previous == Some(key) {
            rows.last_mut().expect("a previous row").weight += 1.0;
        } else {
            previous = Some(key);
            rows.push(SpendHistory {
                frequency: f64::from_bits(key.0),
                monetary: f64::from_bits(key.1),
                weight: 1.0,
            });
        }
    }
    rows
}

fn expected_total(model: &dyn PurchaseModel, rows: &[Weighted], t: f64) -> f64 {
    rows.iter()
        .map(|w| w.weight * model.conditional_expected_purchases(t, &w.history))
        .sum()
}

fn clv_report(args: &ClvArgs) -> anyhow::Result<()> {
    let input = &args.input;
    if !(args.discount_rate > -1.0 && args.discount_rate.is_finite()) {
        bail!(
            "--discount-rate {} must be a monthly rate above -1, e.g. 0.01",
            args.discount_rate
        );
    }
    if !(args.penalizer >= 0.0 && args.penalizer.is_finite()) {
        bail!("--penalizer {} must be 0 or more", args.penalizer);
    }
    let data = load(input)?;
    let (fit_end, summaries, holdout) = match data.calibration_end {
        Some(calibration_end) => {
            let rows = calibration_holdout(
                &data.file.transactions,
                data.bucket,
                data.unit,
                calibration_end,
                data.observation_end,
            )
            .map_err(|e| anyhow!("--calibration-end {}: {e}", format_day(calibration_end)))?;
            let duration = rows.first().map_or(0.0, |h| h.holdout_duration);
            let actual: f64 = rows.iter().map(|h| h.holdout_frequency).sum();
            let summaries: Vec<CustomerSummary> = rows.iter().map(|h| h.calibration).collect();
            (calibration_end, summaries, Some((duration, actual)))
        }
        None => {
            let options = SummaryOptions {
                bucket: data.bucket,
                unit: data.unit,
                observation_end: data.observation_end,
            };
            (
                data.observation_end,
                summarize(&data.file.transactions, &options),
                None,
            )
        }
    };
    let rows = compress(summaries.iter().map(|s| s.history));
    let models = fit_models(&summaries, &rows, args.penalizer)?;

    let holdout = holdout.map(|(duration, actual)| {
        let predicted = [
            expected_total(&models.bg.model, &rows, duration),
            expected_total(&models.mbg.model, &rows, duration),
            expected_total(&models.pareto.model, &rows, duration),
        ];
        (duration, actual, predicted)
    });

    if let Some(path) = &args.predictions {
        write_predictions(path, &data, fit_end, &summaries, &rows, &models, args)
            .with_context(|| format!("--predictions {}", path.display()))?;
    }

    if input.json {
        let mut out = json!({
            "customers": summaries.len(),
            "models": {
                "bg_nbd": {
                    "r": models.bg.model.r, "alpha": models.bg.model.alpha,
                    "a": models.bg.model.a, "b": models.bg.model.b,
                    "log_likelihood": models.bg.log_likelihood,
                },
                "mbg_nbd": {
                    "r": models.mbg.model.r, "alpha": models.mbg.model.alpha,
                    "a": models.mbg.model.a, "b": models.mbg.model.b,
                    "log_likelihood": models.mbg.log_likelihood,
                },
                "pareto_nbd": {
                    "r": models.pareto.model.r, "alpha": models.pareto.model.alpha,
                    "s": models.pareto.model.s, "beta": models.pareto.model.beta,
                    "log_likelihood": models.pareto.log_likelihood,
                },
                "gamma_gamma": {
                    "p": models.gamma.model.p, "q": models.gamma.model.q, "v": models.gamma.model.v,
                    "customers": models.gamma.customers,
                },
            },
        });
        if let Some((_, actual, predicted)) = holdout {
            out["holdout"] = json!({
                "actual_purchases": actual,
                "predicted_purchases": {
                    "bg_nbd": predicted[0], "mbg_nbd": predicted[1], "pareto_nbd": predicted[2],
                },
            });
        }
        emit(&(serde_json::to_string_pretty(&out)? + "\n"))?;
        return Ok(());
    }

    let unit = unit_name(data.unit);
    let mut text = String::new();
    match (data.calibration_end, holdout) {
        (Some(c), Some((duration, _, _))) => {
            writeln!(
                text,
                "Customers: {} (fitted on purchases through {})",
                summaries.len(),
                format_day(c)
            )?;
            writeln!(
                text,
                "Holdout: {} to {}, {} {unit}",
                format_day(c + 1),
                format_day(data.observation_end),
                number(duration, 2)
            )?;
        }
        _ => writeln!(
            text,
            "Customers: {} (fitted on purchases through {})",
            summaries.len(),
            format_day(data.observation_end)
        )?,
    }
    writeln!(
        text,
        "Periods: {} buckets, model time in {unit}",
        data.bucket.key()
    )?;
    writeln!(text)?;
    let mut table = Table::new(&["model", "r", "alpha", "a / s", "b / beta", "log-likelihood"]);
    let bg = models.bg.model;
    let mbg = models.mbg.model;
    let pareto = models.pareto.model;
    table.row(vec![
        "BG/NBD".into(),
        number(bg.r, 4),
        number(bg.alpha, 4),
        number(bg.a, 4),
        number(bg.b, 4),
        number(models.bg.log_likelihood, 2),
    ]);
    table.row(vec![
        "MBG/NBD".into(),
        number(mbg.r, 4),
        number(mbg.alpha, 4),
        number(mbg.a, 4),
        number(mbg.b, 4),
        number(models.mbg.log_likelihood, 2),
    ]);
    table.row(vec![
        "Pareto/NBD".into(),
        number(pareto.r, 4),
        number(pareto.alpha, 4),
        number(pareto.s, 4),
        number(pareto.beta, 4),
        number(models.pareto.log_likelihood, 2),
    ]);
    text.push_str(&table.render());
    writeln!(text)?;
    let mut table = Table::new(&["spend model", "p", "q", "v", "repeat buyers"]);
    let gg = models.gamma.model;
    table.row(vec![
        "Gamma-Gamma".into(),
        number(gg.p, 4),
        number(gg.q, 4),
        number(gg.v, 4),
        number(models.gamma.customers, 0),
    ]);
    text.push_str(&table.render());
    if let Some((_, actual, predicted)) = holdout {
        writeln!(text)?;
        let mut table = Table::new(&["holdout purchases", "count", "vs actual"]);
        table.row(vec!["actual".into(), number(actual, 0), String::new()]);
        for (name, value) in ["BG/NBD", "MBG/NBD", "Pareto/NBD"].into_iter().zip(predicted) {
            let error = if actual > 0.0 {
                format!("{:+.1}%", (value / actual - 1.0) * 100.0)
            } else {
                String::new()
            };
            table.row(vec![format!("{name} predicted"), number(value, 1), error]);
        }
        text.push_str(&table.render());
    }
    if let Some(path) = &args.predictions {
        writeln!(
            text,
            "\nPredictions for {} customers written to {}",
            summaries.len(),
            path.display()
        )?;
    }
    emit(&text)?;
    Ok(())
}

fn history_key(h: &History) -> (u64, u64, u64) {
    (h.frequency.to_bits(), h.recency.to_bits(), h.age.to_bits())
}

fn write_predictions(
    path: &std::path::Path,
    data: &Loaded,
    fit_end: i32,
    summaries: &[CustomerSummary],
    rows: &[Weighted],
    models: &Models,
    args: &ClvArgs,
) -> anyhow::Result<()> {
    let horizon = f64::from(args.horizon) * data.unit.per_month();
    let bg = &models.bg.model;
    // Everything but the spend depends on the history only: compute it once per distinct history.
    // CLV is linear in the spend, so CLV = spend × CLV per unit of spend.
    let mut per_history: HashMap<(u64, u64, u64), (f64, f64, f64)> = HashMap::with_capacity(rows.len());
    for row in rows {
        let h = &row.history;
        per_history.insert(
            history_key(h),
            (
                bg.p_alive(h),
                bg.conditional_expected_purchases(horizon, h),
                clv::customer_lifetime_value(bg, h, 1.0, args.horizon, args.discount_rate, data.unit),
            ),
        );
    }
    let rfm = metrics::rfm(&data.through(fit_end), fit_end);

    let mut out = csv::Writer::from_path(path)?;
    out.write_record([
        "customer",
        "frequency",
        "recency",
        "T",
        "monetary",
        "p_alive",
        &format!("expected_purchases_{}m", args.horizon),
        "expected_average_spend",
        &format!("clv_{}m", args.horizon),
        "rfm",
        "segment",
    ])?;
    for s in summaries {
        let h = &s.history;
        let (p_alive, expected, clv_per_spend) = per_history[&history_key(h)];
        let spend = models.gamma.model.expected_average_spend(h.frequency, s.monetary);
        let score = rfm
            .binary_search_by_key(&s.customer, |r| r.customer)
            .ok()
            .map(|i| &rfm[i]);
        out.write_record([
            data.id(s.customer).to_string(),
            h.frequency.to_string(),
            h.recency.to_string(),
            h.age.to_string(),
            s.monetary.to_string(),
            p_alive.to_string(),
            expected.to_string(),
            spend.to_string(),
            (spend * clv_per_spend).to_string(),
            score.map(Rfm::code).unwrap_or_default(),
            score.map(|r| r.segment.key().to_string()).unwrap_or_default(),
        ])?;
    }
    out.flush()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// rfm

fn rfm_report(args: &InputArgs) -> anyhow::Result<()> {
    let data = load(args)?;
    let as_of = data.observation_end;
    let transactions = data.through(as_of);
    let scores = metrics::rfm(&transactions, as_of);
    let totals = metrics::customer_totals(&transactions);
    let kpis = metrics::kpis(&totals);
    let rule = VipRule::default();
    let vips = metrics::vips(&totals, rule);
    let by_customer: HashMap<u64, &CustomerTotals> = totals.iter().map(|t| (t.customer, t)).collect();
    let vip_revenue: f64 = vips.iter().map(|c| by_customer[c].total).sum();
    let vip_threshold = vips.last().map(|c| by_customer[c].total);

    struct SegmentStats {
        customers: u64,
        revenue: f64,
        recency: f64,
        frequency: f64,
    }
    let mut stats: Vec<SegmentStats> = Segment::ALL
        .iter()
        .map(|_| SegmentStats {
            customers: 0,
            revenue: 0.0,
            recency: 0.0,
            frequency: 0.0,
        })
        .collect();
    for r in &scores {
        let s = &mut stats[r.segment as usize];
        s.customers += 1;
        s.revenue += r.monetary;
        s.recency += r.recency_days;
        s.frequency += r.frequency;
    }
    let n = scores.len() as f64;
    let mean = |sum: f64, count: u64| if count > 0 { sum / count as f64 } else { 0.0 };

    if args.json {
        let segments: Vec<Value> = Segment::ALL
            .iter()
            .zip(&stats)
            .map(|(segment, s)| {
                json!({
                    "segment": segment.key(),
                    "name": segment.name(),
                    "customers": s.customers,
                    "share": if n > 0.0 { s.customers as f64 / n } else { 0.0 },
                    "revenue": s.revenue,
                    "mean_recency_days": mean(s.recency, s.customers),
                    "mean_orders": mean(s.frequency, s.customers),
                    "mean_spend": mean(s.revenue, s.customers),
                })
            })
            .collect();
        let out = json!({
            "as_of": format_day(as_of),
            "customers": scores.len(),
            "kpis": kpis,
            "segments": segments,
            "vips": {
                "rule": "top 5% of customers by total spend",
                "customers": vips.len(),
                "revenue": vip_revenue,
                "minimum_spend": vip_threshold,
            },
        });
        emit(&(serde_json::to_string_pretty(&out)? + "\n"))?;
        return Ok(());
    }

    let mut text = String::new();
    writeln!(
        text,
        "RFM as of {}: {} customers",
        format_day(as_of),
        scores.len()
    )?;
    writeln!(text)?;
    text.push_str(&kpi_table(&kpis).render());
    writeln!(text)?;
    let mut table = Table::new(&[
        "segment",
        "customers",
        "share",
        "revenue",
        "mean days since",
        "mean orders",
        "mean spend",
    ]);
    for (segment, s) in Segment::ALL.iter().zip(&stats) {
        table.row(vec![
            segment.name().into(),
            s.customers.to_string(),
            percent(if n > 0.0 { s.customers as f64 / n } else { 0.0 }),
            number(s.revenue, 2),
            number(mean(s.recency, s.customers), 1),
            number(mean(s.frequency, s.customers), 2),
            number(mean(s.revenue, s.customers), 2),
        ]);
    }
    text.push_str(&table.render());
    writeln!(text)?;
    writeln!(
        text,
        "VIPs (top 5% by spend): {} customers, {} revenue{}",
        vips.len(),
        number(vip_revenue, 2),
        vip_threshold
            .map(|t| format!(", each spent at least {}", number(t, 2)))
            .unwrap_or_default()
    )?;
    emit(&text)?;
    Ok(())
}

fn kpi_table(kpis: &metrics::Kpis) -> Table {
    let mut table = Table::new(&["KPI", "value"]);
    let optional = |v: Option<f64>, digits| v.map_or("–".to_string(), |v| number(v, digits));
    table.row(vec!["customers".into(), kpis.customers.to_string()]);
    table.row(vec!["orders".into(), kpis.orders.to_string()]);
    table.row(vec!["revenue".into(), number(kpis.revenue, 2)]);
    table.row(vec![
        "repeat-purchase rate".into(),
        kpis.repeat_purchase_rate.map_or("–".into(), percent),
    ]);
    table.row(vec![
        "purchase frequency".into(),
        optional(kpis.purchase_frequency, 3),
    ]);
    table.row(vec![
        "average order value".into(),
        optional(kpis.average_order_value, 2),
    ]);
    table.row(vec!["historic CLV".into(), optional(kpis.historic_clv, 2)]);
    table
}

// ---------------------------------------------------------------------------------------------
// cohorts

fn cohorts_report(args: &InputArgs) -> anyhow::Result<()> {
    let data = load(args)?;
    let transactions = data.through(data.observation_end);
    let retention = metrics::monthly_retention(&transactions);
    let matrix = metrics::cohort_matrix(&transactions);
    let curve = metrics::retention_curve(&matrix);

    if args.json {
        let cohorts: Vec<Value> = matrix
            .cohorts
            .iter()
            .map(|c| {
                json!({
                    "month": c.month,
                    "size": c.size,
                    "customers": c.cells.iter().map(|cell| cell.customers).collect::<Vec<_>>(),
                    "revenue": c.cells.iter().map(|cell| cell.revenue).collect::<Vec<_>>(),
                    "retention": (0..c.cells.len()).map(|k| c.retention(k)).collect::<Vec<_>>(),
                })
            })
            .collect();
        let out = json!({
            "observation_end": format_day(data.observation_end),
            "monthly_retention": retention,
            "cohorts": cohorts,
            "retention_curve": curve,
        });
        emit(&(serde_json::to_string_pretty(&out)? + "\n"))?;
        return Ok(());
    }

    let mut text = String::new();
    writeln!(
        text,
        "Cohorts by first-order month, through {}",
        format_day(data.observation_end)
    )?;
    writeln!(text)?;
    text.push_str(&cohort_table(&matrix).render());
    writeln!(text)?;
    let mut table = Table::new(&["month", "active", "active next month", "retention", "churn"]);
    for m in &retention {
        table.row(vec![
            m.month.to_string(),
            m.active.to_string(),
            m.retained.to_string(),
            m.retention.map_or("–".into(), percent),
            m.churn.map_or("–".into(), percent),
        ]);
    }
    text.push_str(&table.render());
    writeln!(text)?;
    let mut table = Table::new(&[
        "months after first",
        "retention (mean of cohorts)",
        "retention (all customers)",
        "cohorts",
    ]);
    for p in &curve {
        table.row(vec![
            p.offset.to_string(),
            percent(p.retention),
            percent(p.weighted_retention),
            p.cohorts.to_string(),
        ]);
    }
    text.push_str(&table.render());
    emit(&text)?;
    Ok(())
}

/// Cohort rows with the share of the cohort buying in each month after its first.
fn cohort_table(matrix: &CohortMatrix) -> Table {
    let months = matrix.cohorts.iter().map(|c| c.cells.len()).max().unwrap_or(0);
    let mut headers = vec!["cohort".to_string(), "size".to_string()];
    headers.extend((0..months).map(|k| format!("+{k}")));
    let mut table = Table {
        headers,
        rows: Vec::new(),
    };
    for c in &matrix.cohorts {
        let mut row = vec![c.month.to_string(), c.size.to_string()];
        row.extend((0..c.cells.len()).map(|k| c.retention(k).map_or(String::new(), percent)));
        table.row(row);
    }
    table
}

// ---------------------------------------------------------------------------------------------
// tables

struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// The first column left-aligned, the others right-aligned, two spaces apart.
    fn render(&self) -> String {
        let columns = self
            .headers
            .len()
            .max(self.rows.iter().map(Vec::len).max().unwrap_or(0));
        let mut widths = vec![0usize; columns];
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = row.get(i).map_or("", String::as_str);
                let pad = width - cell.chars().count();
                if i == 0 {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                } else {
                    line.push_str("  ");
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Writes to standard output; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn number(value: f64, digits: usize) -> String {
    if value.is_finite() {
        format!("{value:.digits$}")
    } else {
        value.to_string()
    }
}

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align() {
        let mut t = Table::new(&["a", "bb"]);
        t.row(vec!["long".into(), "1".into()]);
        assert_eq!(t.render(), "a     bb\nlong   1\n");
    }

    #[test]
    fn date_flags() {
        assert_eq!(parse_date_flag("--x", "1970-01-02").unwrap(), 1);
        assert_eq!(
            parse_date_flag("--observation-end", "2024-02-30")
                .unwrap_err()
                .to_string(),
            "--observation-end \"2024-02-30\" is not a date like 2024-03-31"
        );
    }
}
