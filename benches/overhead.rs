//! What `#[secure_tool]` costs. Run: `cargo bench --bench overhead`.
//!
//! - `tools_call/bare` vs `tools_call/secured`: one `tools/call` through a real rmcp client
//!   over `tokio::io::duplex`, the same 6-field input, side by side in one run. The secured
//!   tool declares a scope and a rate and validates the input.
//! - `pipeline/*`: the guard alone, without transport: the prologue (raw limits, identity,
//!   permission, rate, audit) on a tool with no input, and the whole pipeline with the
//!   6-field input (adds deserialization and validation).
//! - `stages` (outside criterion): each stage of the pipeline alone, in ns and heap
//!   allocations per call (a counting allocator wraps the system one for the whole bench),
//!   medians of 21 rounds: the table in the README's performance section.
//! - Then, outside criterion, `tools_call` interleaved: criterion measures bare, then
//!   secured, so drift in the machine's speed between the two lands on one side. This
//!   alternates batches of bare and secured calls and prints the median of the per-round
//!   ratios: the figure to trust for the ratio.

use criterion::{Criterion, criterion_group};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolRequestParams, CallToolResponse, JsonObject};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use std::alloc::{GlobalAlloc, Layout, System};
use std::any::TypeId;
use std::sync::atomic::{AtomicU64, Ordering};

use secure_tool::__private::{
    CallScope, Limits, NoInput, Rate, Site, ToolDecl, ToolFuture, returns_value, run_async,
    run_sync,
};
use secure_tool::{Principal, SecureInput, SecureServer, Security, secure_tool};
use serde_json::{Value, json};

/// The system allocator, counting allocations (both sides of every comparison pay the
/// same one relaxed increment).
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to `System` unchanged.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

#[derive(serde::Deserialize, schemars::JsonSchema, validator::Validate, SecureInput)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Order {
    #[validate(length(min = 1, max = 64))]
    customer: String,
    #[validate(length(min = 1, max = 32))]
    sku: String,
    #[validate(range(min = 1, max = 1000))]
    quantity: u32,
    #[validate(range(min = 0.0, max = 1_000_000.0))]
    price: f64,
    #[validate(length(max = 256))]
    note: Option<String>,
    express: bool,
}

fn order() -> Value {
    json!({
        "customer": "ada@example.com",
        "sku": "RUST-2024",
        "quantity": 3,
        "price": 42.5,
        "note": "leave at the door",
        "express": true
    })
}

#[derive(Clone)]
struct Bare {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Bare {
    #[tool(description = "Place an order")]
    async fn place(&self, Parameters(o): Parameters<Order>) -> String {
        o.sku
    }

    #[tool(description = "Ping")]
    async fn ping(&self) -> String {
        "pong".into()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Bare {}

#[derive(Clone)]
struct Secured {
    security: Security,
    tool_router: ToolRouter<Self>,
}

impl SecureServer for Secured {
    fn security(&self) -> &Security {
        &self.security
    }
}

#[tool_router]
impl Secured {
    // A real rate check on every call, at a rate the benchmark cannot exhaust (criterion
    // runs millions of calls; an exhausted bucket would measure the refusal path).
    #[secure_tool(scope = "orders.write", rate = "4000000000/sec")]
    #[tool(description = "Place an order")]
    async fn place(&self, Parameters(o): Parameters<Order>) -> String {
        o.sku
    }

    #[secure_tool(public)]
    #[tool(description = "Ping")]
    async fn ping(&self) -> String {
        "pong".into()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Secured {}

fn security() -> Security {
    Security::builder()
        .local_principal(Principal::new("bench").with_scopes(["orders.write"]))
        .build()
}

async fn connect<S: ServerHandler>(server: S) -> RunningService<RoleClient, ()> {
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.unwrap()
}

/// A client connected to the bare server and one connected to the secured server.
async fn clients() -> (
    RunningService<RoleClient, ()>,
    RunningService<RoleClient, ()>,
) {
    let bare = connect(Bare {
        tool_router: Bare::tool_router(),
    })
    .await;
    let secured = connect(Secured {
        security: security(),
        tool_router: Secured::tool_router(),
    })
    .await;
    (bare, secured)
}

fn tools_call(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (bare, secured) = runtime.block_on(clients());
    let args = order().as_object().cloned().unwrap();
    let mut group = c.benchmark_group("tools_call");
    for (name, client) in [("bare", &bare), ("secured", &secured)] {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                let params = CallToolRequestParams::new("place").with_arguments(args.clone());
                let result = client.call_tool(params).await.unwrap();
                assert_ne!(result.is_error, Some(true));
                result
            });
        });
    }
    // The same without input: what the per-call machinery costs on its own.
    for (name, client) in [("bare_no_input", &bare), ("secured_no_input", &secured)] {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                let result = client
                    .call_tool(CallToolRequestParams::new("ping"))
                    .await
                    .unwrap();
                assert_ne!(result.is_error, Some(true));
                result
            });
        });
    }
    group.finish();
}

/// Declared as `#[secure_tool]` declares a tool: `rate = "4000000000/sec"`, nothing else.
const PROLOGUE: &ToolDecl = &ToolDecl {
    name: "place",
    scopes: &["orders.write"],
    public: false,
    limits: Limits {
        rate: Some(Rate {
            count: 4_000_000_000,
            period_ms: 1000,
        }),
        ..Limits::NONE
    },
    input: "Order",
    asynchronous: true,
    site: Site {
        module: module_path!(),
        file: file!(),
        line: line!(),
        column: column!(),
    },
};

/// The server type the declaration belongs to.
struct Bench;

/// The prologue alone: a tool without input, declared as `PROLOGUE`, run as generated
/// code runs a sync tool.
fn prologue(security: &Security, principal: &Principal) -> CallToolResponse {
    let scope = CallScope::new(None, principal.clone());
    run_sync::<NoInput, _, _>(
        security,
        TypeId::of::<Bench>(),
        PROLOGUE,
        scope,
        |_| (),
        returns_value,
    )
}

/// The whole pipeline on the 6-field input, as generated code runs a sync tool.
fn place_sync(security: &Security, principal: &Principal, args: &JsonObject) -> CallToolResponse {
    let scope = CallScope::new(Some(args.clone()), principal.clone());
    run_sync::<Order, _, _>(
        security,
        TypeId::of::<Bench>(),
        PROLOGUE,
        scope,
        |o| o.sku,
        returns_value,
    )
}

/// The same, as generated code runs an async tool: the future the tool returns.
fn place_async<'a>(
    security: &'a Security,
    principal: &Principal,
    args: &JsonObject,
) -> ToolFuture<'a> {
    let scope = CallScope::new(Some(args.clone()), principal.clone());
    run_async::<Order, _, _, _>(
        security,
        TypeId::of::<Bench>(),
        PROLOGUE,
        scope,
        returns_value,
        |order| async move { order.sku },
    )
}

fn pipeline(c: &mut Criterion) {
    let security = security();
    let principal = Principal::new("bench").with_scopes(["orders.write"]);
    let args = order().as_object().cloned().unwrap();
    let mut group = c.benchmark_group("pipeline");
    group.bench_function("prologue_no_input", |b| {
        b.iter(|| prologue(&security, &principal));
    });
    // The same prologue with an operator policy loaded (the caller's scope comes from a
    // role the policy grants it: the resolve path runs on every call), and with the
    // JSON-lines audit trail on (one queued line per call).
    let dir = std::env::temp_dir().join(format!("secure-tool-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("secure-tool.toml");
    std::fs::write(
        &policy,
        "[roles]\nwriter = [\"orders.write\"]\n\n[principals]\nbench = { roles = [\"writer\"] }\n\n[tools.place]\nrate = \"4000000000/sec\"\n",
    )
    .unwrap();
    let _ = Secured::tool_router();
    let with_policy = Security::builder().policy_file(&policy).unwrap().build();
    let with_audit = Security::builder()
        .local_principal(Principal::new("bench").with_scopes(["orders.write"]))
        .audit_log(
            secure_tool::AuditLog::new(dir.join("audit.jsonl"))
                .max_bytes(64 << 20)
                .keep(0),
        )
        .unwrap()
        .build();
    let bare_principal = Principal::new("bench");
    for (name, security, principal) in [
        ("prologue_no_input_policy", &with_policy, &bare_principal),
        ("prologue_no_input_audit_log", &with_audit, &principal),
    ] {
        group.bench_function(name, |b| b.iter(|| prologue(security, principal)));
    }
    group.bench_function("full_6_field_input", |b| {
        b.iter(|| place_sync(&security, &principal, &args));
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    group.bench_function("full_6_field_input_async", |b| {
        b.to_async(&runtime)
            .iter(|| place_async(&security, &principal, &args));
    });
    group.finish();
}

criterion_group!(benches, tools_call, pipeline);

/// Secured over bare `tools/call` time, from alternating batches (the order flips every
/// round): the median and quartiles of the per-round ratios.
fn interleaved(rounds: usize, batch: usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (bare, secured) = runtime.block_on(clients());
    let args = order().as_object().cloned().unwrap();
    for (label, tool, arguments) in [
        ("tools_call", "place", Some(args)),
        ("tools_call_no_input", "ping", None),
    ] {
        let time = |client: &RunningService<RoleClient, ()>| {
            runtime.block_on(async {
                let started = std::time::Instant::now();
                for _ in 0..batch {
                    let mut params = CallToolRequestParams::new(tool);
                    if let Some(arguments) = &arguments {
                        params = params.with_arguments(arguments.clone());
                    }
                    let result = client.call_tool(params).await.unwrap();
                    assert_ne!(result.is_error, Some(true));
                }
                started.elapsed().as_secs_f64()
            })
        };
        time(&bare);
        time(&secured);
        let mut ratios: Vec<f64> = (0..rounds)
            .map(|round| {
                let (b, s) = if round % 2 == 0 {
                    let b = time(&bare);
                    (b, time(&secured))
                } else {
                    let s = time(&secured);
                    (time(&bare), s)
                };
                s / b
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
        let per_call_allocations = |client| {
            let before = allocations();
            time(client);
            (allocations() - before) as f64 / batch as f64
        };
        println!(
            "{label}: allocations per call (client and server, one process): bare {:.1}, secured {:.1}",
            per_call_allocations(&bare),
            per_call_allocations(&secured)
        );
        println!(
            "{label} interleaved ({rounds} rounds of {batch} calls a side): secured/bare median {:.3}x (quartiles {:.3}x to {:.3}x)",
            at(0.5),
            at(0.25),
            at(0.75)
        );
    }
}

/// ns and allocations per call of `f`: the median of `rounds` rounds of `batch` calls.
fn per_call(rounds: usize, batch: usize, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..batch {
        f();
    }
    let mut times = Vec::with_capacity(rounds);
    let mut allocs = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let (a0, t0) = (allocations(), std::time::Instant::now());
        for _ in 0..batch {
            f();
        }
        times.push(t0.elapsed().as_nanos() as f64 / batch as f64);
        allocs.push((allocations() - a0) as f64 / batch as f64);
    }
    times.sort_by(f64::total_cmp);
    allocs.sort_by(f64::total_cmp);
    (times[rounds / 2], allocs[rounds / 2])
}

/// Each stage of the pipeline alone: ns and allocations per call.
fn stages(rounds: usize, batch: usize) {
    let security = security();
    let principal = Principal::new("bench").with_scopes(["orders.write"]);
    let args = order().as_object().cloned().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let row = |name: &str, (ns, allocs): (f64, f64)| {
        println!("stage {name:<58} {ns:>8.1} ns {allocs:>6.2} allocations");
    };
    let copy = per_call(rounds, batch, || {
        std::hint::black_box(args.clone());
    });
    row("copy of the arguments (harness; in every row below)", copy);
    let scope_only = per_call(rounds, batch, || {
        std::hint::black_box(CallScope::new(None, principal.clone()));
    });
    row(
        "a call's scope and principal (harness; in the rows below)",
        scope_only,
    );
    row(
        "prologue: raw limits, identity, permission, rate, audit",
        per_call(rounds, batch, || {
            std::hint::black_box(prologue(&security, &principal));
        }),
    );
    row(
        "serde_json::from_value::<Order> (what bare rmcp does too)",
        per_call(rounds, batch, || {
            let value = Value::Object(args.clone());
            std::hint::black_box(serde_json::from_value::<Order>(value).unwrap());
        }),
    );
    let strings = ["ada@example.com", "RUST-2024", "leave at the door"];
    row(
        "hidden-text scan of the 3 string fields",
        per_call(rounds, batch, || {
            for s in strings {
                std::hint::black_box(secure_tool::types::find_hidden(s));
            }
        }),
    );
    row(
        "secret scrub of the output",
        per_call(rounds, batch, || {
            std::hint::black_box(secure_tool::scrub_secrets("RUST-2024"));
        }),
    );
    row(
        "whole sync pipeline, 6-field input (+ deserialize, validate, shape)",
        per_call(rounds, batch, || {
            std::hint::black_box(place_sync(&security, &principal, &args));
        }),
    );
    row(
        "whole async pipeline (+ panic guard, first poll, no timer)",
        per_call(rounds, batch, || {
            std::hint::black_box(runtime.block_on(place_async(&security, &principal, &args)));
        }),
    );
    let future = place_async(&security, &principal, &args);
    let bare = Bare {
        tool_router: Bare::tool_router(),
    };
    let bare_future = bare.place(Parameters(serde_json::from_value(order()).unwrap()));
    println!(
        "stage size of a call's boxed future: secured {} bytes, bare {} bytes",
        size_of_val(&*future),
        size_of_val(&*bare_future)
    );
    drop((future, bare_future));
    row(
        "runtime.block_on of a ready future (harness of the row above)",
        per_call(rounds, batch, || {
            std::hint::black_box(runtime.block_on(async { 1 }));
        }),
    );
}

/// `OVERHEAD_LOOP=bare|secured|none OVERHEAD_CALLS=N`: only connect both clients and make
/// N calls on one of them, for `benches/instructions.sh` to count instructions under
/// callgrind (deterministic, unlike time on a shared machine). 200 calls first warm up
/// what is made once (lazily built tables, the rate limiter's clock, whose calibration
/// reads the clock for as long as it takes, a number of instructions that differs from
/// run to run); the script counts only inside [`measured_calls`].
fn instruction_loop(mode: &str) {
    let calls: usize = std::env::var("OVERHEAD_CALLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (bare, secured) = runtime.block_on(clients());
    let client = match mode {
        "bare" => &bare,
        "secured" => &secured,
        _ => return,
    };
    let args = order().as_object().cloned().unwrap();
    runtime.block_on(place_calls(client, &args, 200));
    measured_calls(&runtime, client, &args, calls);
}

/// The calls `benches/instructions.sh` counts (`--toggle-collect`): everything the
/// client and the server do for them runs on this thread, inside this function.
#[inline(never)]
fn measured_calls(
    runtime: &tokio::runtime::Runtime,
    client: &RunningService<RoleClient, ()>,
    args: &serde_json::Map<String, Value>,
    calls: usize,
) {
    runtime.block_on(place_calls(client, args, calls));
}

async fn place_calls(
    client: &RunningService<RoleClient, ()>,
    args: &serde_json::Map<String, Value>,
    calls: usize,
) {
    for _ in 0..calls {
        let params = CallToolRequestParams::new("place").with_arguments(args.clone());
        let result = client.call_tool(params).await.unwrap();
        assert_ne!(result.is_error, Some(true));
    }
}

fn main() {
    if let Ok(mode) = std::env::var("OVERHEAD_LOOP") {
        return instruction_loop(&mode);
    }
    // `OVERHEAD_ONLY=ratio`: the stage table and the interleaved ratio, without criterion.
    let only_ratio = std::env::var("OVERHEAD_ONLY").is_ok_and(|v| v == "ratio");
    if !only_ratio {
        benches();
        Criterion::default().configure_from_args().final_summary();
    }
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this once, briefly.
    if std::env::args().any(|a| a == "--bench") {
        stages(21, 20_000);
        interleaved(41, 2000);
    } else {
        stages(1, 10);
        interleaved(1, 10);
    }
}
