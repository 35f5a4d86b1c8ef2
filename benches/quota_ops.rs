//! Time per quota operation, in process (no network, no log): where a QUOTA.CHARGE's CPU goes
//! and how fast the journal's replay can go at most. `cargo bench --bench quota_ops`.
//! (Measured 2026-12-02, shared 2-core VM under load: bounds(month) 35 ns, bounds(hour) 4 ns,
//! charge without id 0.6 µs, charge with id 5.3 µs at 200 ids per subject, decode 0.12 µs.)
use std::time::Instant;
use tollgate::config::{QuotaConfig, Window};
use tollgate::quota::mutation::{decode_record, encode_op, Head};
use tollgate::quota::{Catalog, Mutation, SubjectState};

fn main() {
    let q = QuotaConfig::default();
    let catalog = Catalog::from_config(&q);
    let plan = &catalog.plans["pro_annual"];
    let p = catalog.params(plan);
    let now = 1_796_190_000_000u64;
    let n = 200_000u64;

    let t = Instant::now();
    let mut sink = 0u64;
    for i in 0..n {
        sink ^= catalog
            .calendar
            .bounds(Window::Month, now + i)
            .map_or(0, |b| b.end);
    }
    println!(
        "bounds(month): {:.0} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );
    let t = Instant::now();
    for i in 0..n {
        sink ^= catalog
            .calendar
            .bounds(Window::Hour, now + i)
            .map_or(0, |b| b.end);
    }
    println!(
        "bounds(hour): {:.0} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );

    let items = vec![("tokens".to_string(), 1)];
    let mut s = SubjectState::new();
    let t = Instant::now();
    for i in 0..n {
        let _ = std::hint::black_box(s.charge(&p, &items, None, false, now + i));
    }
    println!(
        "charge without id: {:.0} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );

    let mut states: Vec<SubjectState> = (0..1000).map(|_| SubjectState::new()).collect();
    let ids: Vec<String> = (0..n).map(|i| format!("req-{i}")).collect();
    let t = Instant::now();
    for i in 0..n as usize {
        let s = &mut states[i % 1000];
        let _ = std::hint::black_box(s.charge(&p, &items, Some(&ids[i]), false, now + i as u64));
    }
    println!(
        "charge with id (200 ids per subject): {:.0} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );

    let m = Mutation::Charge {
        items: items.clone(),
        id: Some("req-123456".into()),
        dry_run: false,
    };
    let head = Head {
        epoch: 1,
        db: 0,
        key: b"user:12345",
    };
    let rec = encode_op(&head, now, "pro_annual", &m);
    let t = Instant::now();
    for _ in 0..n {
        sink ^= decode_record(&rec).map_or(0, |_| 1);
    }
    println!(
        "decode op record: {:.0} ns",
        t.elapsed().as_nanos() as f64 / n as f64
    );
    std::hint::black_box(sink);
}
