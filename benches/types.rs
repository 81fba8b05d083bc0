//! Cost of the threat-typed inputs' checks. Run: `cargo bench --bench types`.
//! Targets: `SafePath` < 1 µs for a 100-character path, `SafeUrl` < 2 µs without DNS,
//! `ReadOnlySql` < 20 µs for a 200-character query.

use criterion::{Criterion, criterion_group, criterion_main};
use secure_tool::types::{CommandLine, Postgres, ReadOnlySql, SafePath, SafeUrl, find_hidden};
use std::hint::black_box;

fn types(c: &mut Criterion) {
    let path = "projects/secure-tool/runtime/src/types/path_check_benchmark/fixtures/a_rather_long_file_name_v2_1.rs";
    assert_eq!(path.len(), 100);
    let unicode_path = "projets/données/rapports-annuels/2024/résumé-exécutif/version-finale/annexes/tableaux-détaillés.md";
    let url =
        "https://api.github.com/repos/secure-tool/secure-tool/issues?state=open&per_page=50&page=2";
    let sql = "SELECT u.id, u.name, count(o.id) AS orders, sum(o.total) AS spent FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE u.active AND o.created_at > '2024-01-01' GROUP BY u.id, u.name ORDER BY 4 ASC";
    assert!((195..=205).contains(&sql.len()), "{}", sql.len());
    let text = "A note of about two hundred characters, with accents (café, naïve), some punctuation, and nothing hidden in it at all: the common case the guard must make cheap for every string field.";

    let mut group = c.benchmark_group("types");
    group.bench_function("safe_path_100_ascii", |b| {
        b.iter(|| SafePath::parse(black_box(path)).unwrap())
    });
    group.bench_function("safe_path_100_unicode", |b| {
        b.iter(|| SafePath::parse(black_box(unicode_path)).unwrap())
    });
    group.bench_function("safe_url_parse_and_check", |b| {
        b.iter(|| SafeUrl::parse(black_box(url)).unwrap())
    });
    group.bench_function("read_only_sql_200", |b| {
        b.iter(|| ReadOnlySql::<Postgres>::parse(black_box(sql)).unwrap())
    });
    group.bench_function("hidden_text_200", |b| {
        b.iter(|| find_hidden(black_box(text)))
    });
    group.bench_function("command_line", |b| {
        b.iter(|| {
            let cmd = CommandLine::new(
                "git",
                vec!["log".into(), "--oneline".into(), "-n".into(), "5".into()],
            )
            .unwrap();
            cmd.check(&["git"], &["log", "--oneline", "-n"]).unwrap();
            cmd
        })
    });
    group.finish();
}

criterion_group!(benches, types);
criterion_main!(benches);
