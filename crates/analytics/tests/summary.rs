//! Transaction summaries. The expected numbers were computed with Python lifetimes 0.11.3
//! (`summary_data_from_transaction_data` and `calibration_and_holdout_data`) on the same rows.

use regulars_analytics::summary::{
    calibration_holdout, date_of_day, day_from_date, first_day_of_month, format_day, month_of_day, summarize,
    week_start, Bucket, CustomerSummary, SummaryError, SummaryOptions, Transaction,
};
use regulars_analytics::{History, TimeUnit};

fn d(date: &str) -> i32 {
    let y = date[0..4].parse().unwrap();
    let m = date[5..7].parse().unwrap();
    let dd = date[8..10].parse().unwrap();
    day_from_date(y, m, dd).unwrap()
}

fn t(customer: u64, date: &str, amount: f64) -> Transaction {
    Transaction {
        customer,
        day: d(date),
        amount,
    }
}

/// The lifetimes comparison set: customer 1 buys twice on 2024-01-01, customer 2 twice on
/// 2024-02-02, customer 4 only after the observation end (2024-03-20), in the same week.
fn rows() -> Vec<Transaction> {
    vec![
        t(1, "2024-01-01", 10.0),
        t(1, "2024-01-01", 5.0),
        t(1, "2024-01-03", 20.0),
        t(1, "2024-01-10", 30.0),
        t(2, "2024-01-07", 7.0),
        t(2, "2024-01-08", 8.0),
        t(2, "2024-02-02", 4.0),
        t(2, "2024-02-02", 6.0),
        t(3, "2024-02-29", 100.0),
        t(3, "2024-03-01", 50.0),
        t(3, "2024-03-15", 25.0),
        t(4, "2024-03-22", 9.0),
    ]
}

fn triples(summaries: &[CustomerSummary]) -> Vec<(u64, f64, f64, f64, f64)> {
    summaries
        .iter()
        .map(|s| {
            (
                s.customer,
                s.history.frequency,
                s.history.recency,
                s.history.age,
                s.monetary,
            )
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

fn assert_triples(actual: &[CustomerSummary], expected: &[(u64, f64, f64, f64, f64)]) {
    let actual = triples(actual);
    assert_eq!(actual.len(), expected.len(), "{actual:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!(
            a.0 == e.0 && close(a.1, e.1) && close(a.2, e.2) && close(a.3, e.3) && close(a.4, e.4),
            "{a:?} != {e:?}"
        );
    }
}

fn options(bucket: Bucket, unit: TimeUnit) -> SummaryOptions {
    SummaryOptions {
        bucket,
        unit,
        observation_end: d("2024-03-20"),
    }
}

#[test]
fn daily_periods_in_days_match_lifetimes_freq_d() {
    let s = summarize(&rows(), &options(Bucket::Day, TimeUnit::Day));
    assert_triples(
        &s,
        &[
            (1, 2.0, 9.0, 79.0, 25.0),
            (2, 2.0, 26.0, 73.0, 9.0),
            (3, 2.0, 15.0, 20.0, 37.5),
        ],
    );
    // The other fields: customer 1 had 4 transactions in 3 periods, 65 in all.
    let c1 = s[0];
    assert_eq!((c1.periods, c1.transactions, c1.total), (3, 4, 65.0));
    assert_eq!((c1.first_day, c1.last_day), (d("2024-01-01"), d("2024-01-10")));
}

#[test]
fn daily_periods_in_weeks_match_lifetimes_freq_multiplier_7() {
    let s = summarize(&rows(), &options(Bucket::Day, TimeUnit::Week));
    assert_triples(
        &s,
        &[
            (1, 2.0, 9.0 / 7.0, 79.0 / 7.0, 25.0),
            (2, 2.0, 26.0 / 7.0, 73.0 / 7.0, 9.0),
            (3, 2.0, 15.0 / 7.0, 20.0 / 7.0, 37.5),
        ],
    );
}

#[test]
fn weekly_periods_match_lifetimes_freq_w() {
    // Weeks run Monday to Sunday: 2024-01-07 (a Sunday) and 2024-01-08 are two weeks. A purchase
    // later in the observation end's week (customer 4 on Friday 2024-03-22) counts, as in
    // lifetimes.
    let s = summarize(&rows(), &options(Bucket::Week, TimeUnit::Week));
    assert_triples(
        &s,
        &[
            (1, 1.0, 1.0, 11.0, 30.0),
            (2, 2.0, 4.0, 11.0, 9.0),
            (3, 1.0, 2.0, 3.0, 25.0),
            (4, 0.0, 0.0, 0.0, 0.0),
        ],
    );
    // Weekly periods measured in days: the days between the Mondays.
    let s = summarize(&rows(), &options(Bucket::Week, TimeUnit::Day));
    assert_eq!(s[1].history, History::new(2.0, 28.0, 77.0));
}

#[test]
fn monthly_periods_count_calendar_months() {
    let s = summarize(&rows(), &options(Bucket::Month, TimeUnit::Month));
    // Customer 1: January only; T = March − January. Customer 2: January and February (the
    // February total 4 + 6). Customer 3: February and March (50 + 25). Customer 4 bought in March,
    // the observation end's month.
    assert_triples(
        &s,
        &[
            (1, 0.0, 0.0, 2.0, 0.0),
            (2, 1.0, 1.0, 2.0, 10.0),
            (3, 1.0, 1.0, 1.0, 75.0),
            (4, 0.0, 0.0, 0.0, 0.0),
        ],
    );
    // Months measured from daily periods: days / (365.25 / 12).
    let s = summarize(&rows(), &options(Bucket::Day, TimeUnit::Month));
    assert!(close(s[0].history.age, 79.0 / 30.4375));
}

#[test]
fn calibration_and_holdout_match_lifetimes() {
    let h = calibration_holdout(
        &rows(),
        Bucket::Day,
        TimeUnit::Week,
        d("2024-01-08"),
        d("2024-03-20"),
    )
    .unwrap();
    assert_eq!(
        h.len(),
        2,
        "customers 3 and 4 first buy after the calibration end"
    );
    let c1 = h[0];
    assert_eq!(c1.calibration.customer, 1);
    assert!(close(c1.calibration.history.frequency, 1.0));
    assert!(close(c1.calibration.history.recency, 2.0 / 7.0));
    assert!(close(c1.calibration.history.age, 1.0));
    assert_eq!(c1.calibration.monetary, 20.0);
    assert_eq!((c1.holdout_frequency, c1.holdout_monetary), (1.0, 30.0));
    assert!(close(c1.holdout_duration, 72.0 / 7.0));
    let c2 = h[1];
    assert_eq!(c2.calibration.history, History::new(1.0, 1.0 / 7.0, 1.0 / 7.0));
    assert_eq!(c2.calibration.monetary, 8.0);
    // Two purchases on one holdout day: one period, and the mean of the two amounts (not their
    // period total), as lifetimes computes it.
    assert_eq!((c2.holdout_frequency, c2.holdout_monetary), (1.0, 5.0));

    let h = calibration_holdout(
        &rows(),
        Bucket::Day,
        TimeUnit::Day,
        d("2024-01-08"),
        d("2024-03-20"),
    )
    .unwrap();
    assert_eq!(h[0].calibration.history, History::new(1.0, 2.0, 7.0));
    assert_eq!(h[0].holdout_duration, 72.0);

    let h = calibration_holdout(
        &rows(),
        Bucket::Week,
        TimeUnit::Week,
        d("2024-01-08"),
        d("2024-03-20"),
    )
    .unwrap();
    assert_eq!(h[0].calibration.history, History::new(0.0, 0.0, 1.0));
    assert_eq!(h[0].calibration.monetary, 0.0);
    assert_eq!(h[1].calibration.history, History::new(1.0, 1.0, 1.0));
    assert_eq!(
        (
            h[0].holdout_frequency,
            h[0].holdout_monetary,
            h[0].holdout_duration
        ),
        (1.0, 30.0, 10.0)
    );

    // Calibration ending mid-day-period: lifetimes gives customer 1 two holdout days, mean 25.
    let h = calibration_holdout(
        &rows(),
        Bucket::Day,
        TimeUnit::Day,
        d("2024-01-02"),
        d("2024-03-01"),
    )
    .unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].calibration.history, History::new(0.0, 0.0, 1.0));
    assert_eq!(
        (
            h[0].holdout_frequency,
            h[0].holdout_monetary,
            h[0].holdout_duration
        ),
        (2.0, 25.0, 59.0)
    );
}

#[test]
fn bad_periods_are_errors() {
    let rows = rows();
    assert_eq!(
        calibration_holdout(
            &rows,
            Bucket::Day,
            TimeUnit::Day,
            d("2024-03-20"),
            d("2024-03-20")
        ),
        Err(SummaryError::CalibrationNotBeforeObservation {
            calibration_end: d("2024-03-20"),
            observation_end: d("2024-03-20")
        })
    );
    let early = calibration_holdout(
        &rows,
        Bucket::Day,
        TimeUnit::Day,
        d("2023-12-31"),
        d("2024-03-20"),
    );
    assert_eq!(early, Err(SummaryError::NoTransactions { end: d("2023-12-31") }));
    assert_eq!(
        early.unwrap_err().to_string(),
        "no transaction on or before 2023-12-31: every transaction is later (or there are none)"
    );
    let empty = calibration_holdout(
        &rows,
        Bucket::Day,
        TimeUnit::Day,
        d("2024-03-22"),
        d("2024-04-30"),
    );
    assert_eq!(
        empty.unwrap_err().to_string(),
        "the holdout period (after 2024-03-22, up to 2024-04-30) has no transactions"
    );
    let none = summarize(
        &rows,
        &SummaryOptions {
            bucket: Bucket::Day,
            unit: TimeUnit::Day,
            observation_end: d("2023-01-01"),
        },
    );
    assert!(none.is_empty());
}

#[test]
fn order_and_id_spread_do_not_change_the_result() {
    let sorted = summarize(&rows(), &options(Bucket::Day, TimeUnit::Week));
    let mut shuffled = rows();
    shuffled.reverse();
    shuffled.swap(0, 7);
    assert_eq!(
        summarize(&shuffled, &options(Bucket::Day, TimeUnit::Week)),
        sorted
    );
    // Far-apart ids take the sorting path instead of the counting sort.
    let sparse: Vec<Transaction> = shuffled
        .iter()
        .map(|t| Transaction {
            customer: t.customer << 40,
            ..*t
        })
        .collect();
    let result = summarize(&sparse, &options(Bucket::Day, TimeUnit::Week));
    let back: Vec<CustomerSummary> = result
        .iter()
        .map(|s| CustomerSummary {
            customer: s.customer >> 40,
            ..*s
        })
        .collect();
    assert_eq!(back, sorted);
}

#[test]
fn calendar_functions() {
    assert_eq!(day_from_date(1970, 1, 1), Some(0));
    assert_eq!(day_from_date(2024, 2, 29), Some(19_782));
    assert_eq!(day_from_date(2023, 2, 29), None);
    assert_eq!(day_from_date(2024, 13, 1), None);
    assert_eq!(date_of_day(19_782), (2024, 2, 29));
    assert_eq!(date_of_day(-1), (1969, 12, 31));
    assert_eq!(format_day(d("1997-01-01")), "1997-01-01");
    for day in -800_000..800_000 {
        let (y, m, dd) = date_of_day(day);
        assert_eq!(day_from_date(y, m, dd), Some(day));
    }
    // 2024-01-01 was a Monday; 2024-01-07 the Sunday closing that week.
    assert_eq!(week_start(d("2024-01-07")), d("2024-01-01"));
    assert_eq!(week_start(d("2024-01-08")), d("2024-01-08"));
    assert_eq!(week_start(0), d("1969-12-29"));
    // An open-ended observation works with every bucket.
    for bucket in Bucket::ALL {
        let options = SummaryOptions {
            bucket,
            unit: TimeUnit::Day,
            observation_end: i32::MAX,
        };
        assert_eq!(summarize(&rows(), &options).len(), 4);
    }
    assert_eq!(month_of_day(d("2024-03-31")), 54 * 12 + 2);
    assert_eq!(first_day_of_month(-1), d("1969-12-01"));
    assert_eq!(Bucket::from_key("week"), Some(Bucket::Week));
    assert_eq!(Bucket::Month.key(), "month");
}

/// `cargo test --release -p regulars-analytics --test summary -- --ignored` prints the time.
#[test]
#[ignore]
fn ten_million_transactions() {
    let customers = 1_000_000u64;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let rows: Vec<Transaction> = (0..10_000_000)
        .map(|_| {
            let r = next();
            Transaction {
                customer: r % customers,
                day: 10_000 + ((r >> 32) % 1_000) as i32,
                amount: (r >> 50) as f64,
            }
        })
        .collect();
    for bucket in Bucket::ALL {
        let start = std::time::Instant::now();
        let s = summarize(
            &rows,
            &SummaryOptions {
                bucket,
                unit: TimeUnit::Week,
                observation_end: 11_000,
            },
        );
        let elapsed = start.elapsed();
        println!("{bucket:?}: {} customers in {elapsed:?}", s.len());
        assert_eq!(
            s.iter().map(|s| u64::from(s.transactions)).sum::<u64>(),
            10_000_000
        );
        assert!(elapsed.as_secs_f64() < 2.0, "{elapsed:?}");
    }
}

mod reading_files {
    use super::d;
    use regulars_analytics::input::{
        read_transactions_from, Column, Delimiter, Field, InputError, InputOptions, RowError,
    };
    use regulars_analytics::summary::Transaction;

    fn options(customer: &str, date: &str, amount: &str) -> InputOptions {
        InputOptions::new(
            customer.parse().unwrap(),
            date.parse().unwrap(),
            amount.parse().unwrap(),
        )
    }

    fn error(line: u64, field: Field, column: &str, value: &str, reason: &str) -> RowError {
        RowError {
            line,
            field,
            column: column.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn csv_by_header_name_with_every_bad_row_reported() {
        let text = "\
order,Customer,placed,total
1,anjali,2024-03-01,12.50
2,\"Doe, John\",2024-03-02 18:30:00,7
3,anjali,2024-13-01,5
4,,2024-03-04,abc
5,ravi,2024-03-05
6,ravi,2024-03-06T09:00:00+05:30,-3.25

7,\"multi
line\",2024-03-07,1e3
8,ravi,2024-03-08,  4.00  \r
";
        let file = read_transactions_from(text.as_bytes(), &options("customer", "placed", "total")).unwrap();
        assert_eq!(file.customers, ["anjali", "Doe, John", "ravi"]);
        assert_eq!(
            file.transactions,
            [
                Transaction {
                    customer: 0,
                    day: d("2024-03-01"),
                    amount: 12.5
                },
                Transaction {
                    customer: 1,
                    day: d("2024-03-02"),
                    amount: 7.0
                },
                Transaction {
                    customer: 2,
                    day: d("2024-03-06"),
                    amount: -3.25
                },
                Transaction {
                    customer: 2,
                    day: d("2024-03-08"),
                    amount: 4.0
                },
            ]
        );
        assert_eq!((file.rows, file.bad_rows), (8, 4));
        assert_eq!(
            file.errors,
            [
                error(
                    4,
                    Field::Date,
                    "`customer`",
                    "2024-13-01",
                    "is not a date in the format %Y-%m-%d"
                ),
                error(5, Field::Customer, "`customer`", "", "is empty"),
                error(5, Field::Amount, "`total`", "abc", "is not a decimal number"),
                error(
                    6,
                    Field::Amount,
                    "`total`",
                    "",
                    "is missing: the row has too few fields"
                ),
                error(9, Field::Amount, "`total`", "1e3", "is not a decimal number"),
            ]
            .map(|mut e| {
                // The column is reported as it was asked for.
                if e.field == Field::Date {
                    e.column = "`placed`".into();
                }
                e
            })
        );
        assert_eq!(
            file.errors[2].to_string(),
            "line 5: amount column `total`: `abc` is not a decimal number"
        );
        assert_eq!(
            file.errors[3].to_string(),
            "line 6: amount column `total`: is missing: the row has too few fields"
        );
    }

    #[test]
    fn line_numbers_survive_bom_crlf_and_blank_lines() {
        let text = "\u{feff}id,date,amount\r\na,2024-01-01,1\r\n\r\n\r\nb,bad,2\r\n\"c\r\nd\",2024-01-02,x\r\ne,2024-01-03,3";
        let file = read_transactions_from(text.as_bytes(), &options("id", "date", "amount")).unwrap();
        assert_eq!(
            file.errors.iter().map(|e| (e.line, e.field)).collect::<Vec<_>>(),
            [(5, Field::Date), (6, Field::Amount)]
        );
        assert_eq!(file.customers, ["a", "e"]);
        assert_eq!((file.rows, file.bad_rows), (4, 2));
    }

    #[test]
    fn whitespace_columns_by_number_without_header() {
        // CDNOW's format: blank-padded columns, %Y%m%d dates, CRLF line ends.
        let text =
            " 00001 19970101  1   11.77\r\n 00002 19970112  1   12.00\r\n\r\n 00001 19970102\t2   20.76\r\n";
        let mut o = options("1", "2", "4");
        o.has_header = false;
        o.delimiter = Delimiter::Whitespace;
        o.date_format = "%Y%m%d".into();
        let file = read_transactions_from(text.as_bytes(), &o).unwrap();
        assert_eq!(file.customers, ["00001", "00002"]);
        assert_eq!(
            file.transactions,
            [
                Transaction {
                    customer: 0,
                    day: d("1997-01-01"),
                    amount: 11.77
                },
                Transaction {
                    customer: 1,
                    day: d("1997-01-12"),
                    amount: 12.0
                },
                Transaction {
                    customer: 0,
                    day: d("1997-01-02"),
                    amount: 20.76
                },
            ]
        );
        assert_eq!((file.rows, file.bad_rows), (3, 0));

        // The same with a header, by name; line numbers count the header.
        let text =
            "customer_id date number_of_cds dollar_value\n00001 19970101 1 11.77\n00002 1997011 1 12.00\n";
        let mut o = options("customer_id", "date", "dollar_value");
        o.delimiter = Delimiter::Whitespace;
        o.date_format = "%Y%m%d".into();
        let file = read_transactions_from(text.as_bytes(), &o).unwrap();
        assert_eq!(
            file.errors,
            [error(
                3,
                Field::Date,
                "`date`",
                "1997011",
                "is not a date in the format %Y%m%d"
            )]
        );
    }

    #[test]
    fn any_strftime_format_and_only_the_date_counts() {
        let text = "c;when;amount\na;01/03/2024 18:30;1\nb;29/02/2024 00:00;2\nc;30/02/2024 10:00;3\n";
        let mut o = options("1", "2", "3");
        o.delimiter = ";".parse().unwrap();
        o.date_format = "%d/%m/%Y %H:%M".into();
        let file = read_transactions_from(text.as_bytes(), &o).unwrap();
        let days: Vec<i32> = file.transactions.iter().map(|t| t.day).collect();
        assert_eq!(days, [d("2024-03-01"), d("2024-02-29")]);
        assert_eq!(file.errors[0].line, 4);
        // Only the date part of the format: a time after it is ignored too.
        o.date_format = "%d/%m/%Y".into();
        let file = read_transactions_from(text.as_bytes(), &o).unwrap();
        assert_eq!(file.transactions.len(), 2);
    }

    #[test]
    fn bad_options_are_named() {
        let text = "id,date,amount\na,2024-01-01,1\n";
        let err =
            read_transactions_from(text.as_bytes(), &options("customer", "date", "amount")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the customer column `customer` is not in the header (columns: `id`, `date`, `amount`)"
        );
        let err = read_transactions_from(text.as_bytes(), &options("1", "2", "4")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the amount column 4 does not exist: the header has 3 columns"
        );
        let mut o = options("id", "2", "3");
        o.has_header = false;
        assert!(matches!(
            read_transactions_from(text.as_bytes(), &o).unwrap_err(),
            InputError::NameWithoutHeader {
                field: "customer",
                ..
            }
        ));
        // Header names match case-insensitively when no exact match exists.
        assert_eq!(
            read_transactions_from(text.as_bytes(), &options("ID", "Date", "AMOUNT"))
                .unwrap()
                .transactions
                .len(),
            1
        );
        assert_eq!(
            "0".parse::<Column>().unwrap_err(),
            "column numbers start at 1, not 0"
        );
        assert_eq!("whitespace".parse::<Delimiter>(), Ok(Delimiter::Whitespace));
        assert!(";;".parse::<Delimiter>().is_err());
    }

    #[test]
    fn mostly_bad_files_fail() {
        // Day-first dates read with the default format: 2 of 3 rows are bad.
        let text = "id,date,amount\na,2024-01-01,1\nb,31/01/2024,2\nc,29/02/2024,3\n";
        match read_transactions_from(text.as_bytes(), &options("id", "date", "amount")) {
            Err(InputError::TooManyBadRows {
                bad, rows, errors, ..
            }) => {
                assert_eq!((bad, rows), (2, 3));
                assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), [3, 4]);
            }
            other => panic!("{other:?}"),
        }
        // Half is still accepted.
        let text = "id,date,amount\na,2024-01-01,1\nb,31/01/2024,2\n";
        assert_eq!(
            read_transactions_from(text.as_bytes(), &options("id", "date", "amount"))
                .unwrap()
                .bad_rows,
            1
        );
    }
}

/// `cargo test --release -p regulars-analytics --test summary -- --ignored` prints the time.
#[test]
#[ignore]
fn reading_and_summarising_ten_million_rows() {
    use regulars_analytics::input::{read_transactions_from, InputOptions};
    use std::fmt::Write as _;
    let mut text = String::with_capacity(400 << 20);
    text.push_str("customer,date,amount\n");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..10_000_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let (y, m, dd) = date_of_day(10_000 + ((state >> 32) % 1_000) as i32);
        writeln!(
            text,
            "C{:07},{y}-{m:02}-{dd:02},{}.{:02}",
            state % 1_000_000,
            (state >> 20) % 500,
            (state >> 40) % 100
        )
        .unwrap();
    }
    let options = InputOptions::new(
        "customer".parse().unwrap(),
        "date".parse().unwrap(),
        "amount".parse().unwrap(),
    );
    let start = std::time::Instant::now();
    let file = read_transactions_from(text.as_bytes(), &options).unwrap();
    let read = start.elapsed();
    let s = summarize(
        &file.transactions,
        &SummaryOptions {
            bucket: Bucket::Day,
            unit: TimeUnit::Week,
            observation_end: 11_000,
        },
    );
    println!(
        "read {} rows ({} MB) in {read:?}, summarised {} customers in {:?}",
        file.rows,
        text.len() >> 20,
        s.len(),
        start.elapsed() - read
    );
    assert_eq!(file.transactions.len(), 10_000_000);
}
