//! Throughput of secret scrubbing. Run: `cargo bench --bench scrub`.
//! Target: at least 500 MB/s on clean text (output with no credential in it).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// About 1 MiB made by repeating `unit`.
fn mib(unit: &str) -> String {
    let mut text = String::with_capacity(1 << 20);
    while text.len() < 1 << 20 {
        text.push_str(unit);
        text.push('\n');
    }
    text
}

fn scrub(c: &mut Criterion) {
    // Realistic output with no credential: code, SQL, logs and prose that name passwords,
    // tokens and keys (tests/data/benign-output.txt): every keyword rule runs on it.
    let benign = mib(include_str!("../tests/data/benign-output.txt"));
    // Tool output of the common kind: rows, logs, prose, without those words.
    let plain = mib(
        "2026-11-30T12:00:01Z INFO api: GET /v1/items?page=2 200 12ms rows=50 region=eu-west-1\n\
         id,name,email,created_at\n1,Alice,alice@example.com,2026-01-01\n\
         The quarterly report shows revenue up 12% on last year, driven by the new region.",
    );
    let mut leaky = benign.clone();
    leaky.push_str(
        "postgres://admin:Xk2p9Lq@db.example.com/app ghp_R7xkQ2mN9pL4vB8cT1wZ6yH3jF5dS0aG2eK7\n",
    );
    assert!(matches!(
        secure_tool::scrub_secrets(&benign),
        std::borrow::Cow::Borrowed(_)
    ));
    assert!(matches!(
        secure_tool::scrub_secrets(&plain),
        std::borrow::Cow::Borrowed(_)
    ));

    let mut group = c.benchmark_group("scrub");
    for (name, text) in [
        ("plain_output", &plain),
        ("benign_with_keywords", &benign),
        ("with_two_secrets", &leaky),
    ] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| secure_tool::scrub_secrets(black_box(text)))
        });
    }
    // The copy every output already pays, for scale.
    group.throughput(Throughput::Bytes(plain.len() as u64));
    group.bench_function("copy_for_scale", |b| {
        b.iter(|| black_box(&plain).to_owned())
    });
    group.finish();
}

criterion_group!(benches, scrub);
criterion_main!(benches);
