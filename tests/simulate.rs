//! Replaying the shop example's recorded canary series through the SLO analysis that glidepath
//! renders for prod payment-service.

use std::fs;
use std::path::{Path, PathBuf};

use glidepath::check::simulate::{
    metric_specs, parse_series, render_human, select_metric, simulate, slo_template, MetricSpec, Outcome, Simulation,
    Verdict,
};
use glidepath::render::{Address, Resource};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `error-rate` metric of prod payment-service's rendered SLO template.
fn error_rate() -> MetricSpec {
    let model = glidepath::catalog::load(&repo().join("examples/shop")).expect("examples/shop loads");
    let desired = glidepath::render::render(&model).expect("examples/shop renders");

    // The template sits at its documented address...
    let address: Address = "prod/payment-service/k8s/AnalysisTemplate/payment-service-slo".parse().unwrap();
    let Some(Resource::Kube(object)) = desired.resources.get(&address) else { panic!("no {address}") };
    assert_eq!(object.kind, "AnalysisTemplate");
    // ...which is where the helper looks.
    let body = slo_template(&desired, "prod", "payment-service").unwrap();
    assert_eq!(body, &object.body);

    let specs = metric_specs(body).unwrap();
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["error-rate", "p99-latency"]);
    let spec = select_metric(&specs, Some("error-rate")).unwrap().clone();
    // The hand computations below assume exactly this metric, measured from the start of the
    // recordings: they begin where the first measurement is taken, after the rendered initialDelay
    // (20s warm-up + 5s readiness + two 30s scrapes = 85s), so the replays leave it out.
    let spec = MetricSpec { initial_delay_secs: 0, ..spec };
    assert_eq!(specs[0].initial_delay_secs, 85);
    assert_eq!(
        spec,
        MetricSpec {
            name: "error-rate".into(),
            interval_secs: 60,
            initial_delay_secs: 0,
            count: None,
            failure_limit: 1,
            consecutive_error_limit: 4,
            inconclusive_limit: 0,
            success_condition: Some("result[0] <= 0.01".into()),
            failure_condition: None,
        }
    );
    spec
}

fn replay(file: &str, start_secs: f64) -> Simulation {
    let text = fs::read_to_string(Path::new(&repo()).join("examples/shop/metrics").join(file)).unwrap();
    let series = parse_series(&text).unwrap();
    simulate(&error_rate(), &series, start_secs).unwrap()
}

fn table(sim: &Simulation) -> Vec<(u32, u64, Option<f64>, Outcome)> {
    sim.measurements.iter().map(|m| (m.index, m.t_secs, m.value, m.outcome)).collect()
}

use Outcome::{Error as E, Failed as F, Successful as S};

#[test]
fn bad_canary_aborts_at_the_second_failed_measurement() {
    // Analysis starting at the first sample (10:00:00). A measurement every minute, each reading
    // the sample at that minute; success means result[0] <= 0.01, failureLimit 1:
    //   #1 0m00s 0.004 ok
    //   #2 1m00s 0.005 ok
    //   #3 2m00s 0.013 FAILED (1 failed, not > failureLimit 1: tolerated)
    //   #4 3m00s 0.005 ok     (the 3m30s missed scrape falls between measurements)
    //   #5 4m00s 0.048 FAILED (2 failed > 1) -> the metric fails, the rollout aborts at 4m00s.
    let sim = replay("payment-service-bad-canary.csv", 0.0);
    assert_eq!(
        table(&sim),
        vec![
            (1, 0, Some(0.004), S),
            (2, 60, Some(0.005), S),
            (3, 120, Some(0.013), F),
            (4, 180, Some(0.005), S),
            (5, 240, Some(0.048), F),
        ]
    );
    assert_eq!(sim.verdict, Verdict::Failed { at_secs: 240, measurement: 5 });
    let text = render_human(&sim);
    assert!(text.ends_with("would ABORT at 4m00s (measurement 5): 2 failed measurements > failureLimit 1\n"), "{text}");
}

#[test]
fn bad_canary_with_a_later_start() {
    // --start 120: the analysis begins at the blip (10:02:00).
    //   #1 0m00s 0.013 FAILED (1)   #2 1m00s 0.005 ok   #3 2m00s 0.048 FAILED (2 > 1) -> abort.
    let sim = replay("payment-service-bad-canary.csv", 120.0);
    assert_eq!(table(&sim), vec![(1, 0, Some(0.013), F), (2, 60, Some(0.005), S), (3, 120, Some(0.048), F)]);
    assert_eq!(sim.verdict, Verdict::Failed { at_secs: 120, measurement: 3 });

    // --start 150 (10:02:30): #1 reads 0.006. #2 at 1m00s is 10:03:30, the missed scrape: no data,
    // an Error, retried 10s later (#3 at 1m10s, #4 at 1m20s, #5 at 1m30s). The empty sample is
    // still the latest until 10:04:00, so #3 and #4 err too; three consecutive errors stay within
    // consecutiveErrorLimit 4. #5 (10:04:00) reads 0.048: FAILED (1); #6 a minute later (2m30s,
    // 10:05:00) reads 0.055: FAILED (2 > 1) -> abort at 2m30s, measurement 6.
    let sim = replay("payment-service-bad-canary.csv", 150.0);
    assert_eq!(
        table(&sim),
        vec![
            (1, 0, Some(0.006), S),
            (2, 60, None, E),
            (3, 70, None, E),
            (4, 80, None, E),
            (5, 90, Some(0.048), F),
            (6, 150, Some(0.055), F),
        ]
    );
    assert_eq!(sim.verdict, Verdict::Failed { at_secs: 150, measurement: 6 });
}

#[test]
fn good_canary_never_aborts() {
    // 21 samples, 30s apart (10 minutes), all under 1%: measurements at 0m..10m all pass, and with
    // no `count` the metric is still running when the recording ends.
    let sim = replay("payment-service-good-canary.json", 0.0);
    assert_eq!(sim.measurements.len(), 11);
    assert!(sim.measurements.iter().all(|m| m.outcome == S), "{}", render_human(&sim));
    assert_eq!(sim.measurements.last().unwrap().t_secs, 600);
    assert_eq!(sim.verdict, Verdict::Running);
    assert!(render_human(&sim).contains("still running: the series ends after measurement 11 at 10m00s"));
}
