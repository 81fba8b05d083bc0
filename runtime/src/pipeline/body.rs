//! Stage 6 of an async tool: its body, under the panic guard, the time limit and rmcp's
//! cancellation, then stages 7 and 8 (shaping, audit), as one hand-written future.
//!
//! Written by hand, not as nested `async fn`s, for the size of what every call allocates:
//! an `async fn` keeps its arguments and the locals they are moved into in separate
//! slots, so the body's future and the call's scope were held twice, and every call's
//! boxed future was over a kilobyte (a large-bin allocation, which made `malloc` sweep its
//! fast bins on every call). Here each is held once.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use rmcp::model::CallToolResponse;
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::shape::finish_returned;
use super::{Guard, Ran, Returned, deadline};

pin_project_lite::pin_project! {
    /// An admitted async call: the body's future, then shaping and audit.
    ///
    /// Fields drop in declaration order: the body (and what it holds: a child process, a
    /// connection) before the guard's concurrency slot, also when rmcp drops the call.
    pub(crate) struct Call<'a, Fut, R> {
        #[pin]
        body: Option<Fut>,
        returned: fn(R) -> Returned,
        // Armed only for a body still pending after its first poll: most bodies finish
        // on it and need no timer and no cancellation waiter.
        waiting: Option<Pin<Box<Waiting>>>,
        guard: Option<Guard<'a>>,
    }
}

impl<'a, Fut, R> Call<'a, Fut, R>
where
    Fut: Future<Output = R>,
{
    /// The call that runs `body` for the admitted `guard`.
    pub(crate) fn new(guard: Guard<'a>, body: Fut, returned: fn(R) -> Returned) -> Self {
        Self {
            body: Some(body),
            returned,
            waiting: None,
            guard: Some(guard),
        }
    }
}

impl<Fut, R> Future for Call<'_, Fut, R>
where
    Fut: Future<Output = R>,
{
    type Output = CallToolResponse;

    /// The timeout counts from the call's start, not from the body's first `Pending`: a
    /// body that spends its first poll working (or blocked) has used its time, and is
    /// answered `timeout` at its first `Pending` after the deadline. A body that blocks
    /// its thread inside a poll cannot be interrupted by anything in the process (async
    /// code is only stopped where it yields), and that thread is not given back until the
    /// blocking call returns: do blocking work in `tokio::task::spawn_blocking` (the
    /// deadline then holds while the blocked thread stays behind) or write the tool as a
    /// sync `fn`, which runs off the runtime's workers.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CallToolResponse> {
        let mut this = self.project();
        let (Some(body), Some(guard)) = (this.body.as_mut().as_pin_mut(), this.guard.as_ref())
        else {
            // Polled after it answered: nothing is left to run (a future's contract
            // allows a panic here; a server has no use for one).
            return Poll::Pending;
        };
        let returned = *this.returned;
        // The conversion of the body's value (rmcp's, which may serialize) is inside the
        // panic guard too.
        let ran = match std::panic::catch_unwind(AssertUnwindSafe(|| body.poll(cx).map(returned))) {
            Ok(Poll::Ready(value)) => Ran::Returned(value),
            Err(panic) => Ran::Panicked(panic),
            Ok(Poll::Pending) => {
                let waiting = this.waiting.get_or_insert_with(|| {
                    let limit = deadline(guard.security, &guard.tool, &guard.scope);
                    Box::pin(Waiting::new(limit, guard.scope.cancel.clone()))
                });
                match waiting.as_mut().ended(cx) {
                    Poll::Ready(ran) => ran,
                    Poll::Pending => return Poll::Pending,
                }
            }
        };
        // The body (and what it holds) is dropped first, then its concurrency slot is given
        // back, then the result is shaped and audited: the duration recorded includes the
        // body's teardown, the time the call held what it held.
        this.body.set(None);
        let Some(Guard {
            security,
            tool,
            scope,
            permit,
        }) = this.guard.take()
        else {
            return Poll::Pending;
        };
        // Even when it timed out or was cancelled.
        drop(permit);
        Poll::Ready(finish_returned(security, &tool, scope, ran))
    }
}

pin_project_lite::pin_project! {
    /// What a pending body waits on besides itself: its deadline and rmcp's cancellation
    /// of the request (rmcp only cancels the token; without this the body would run on).
    ///
    /// The timer is polled outside tokio's cooperative budget (as `tokio::time::timeout`
    /// polls its own): a body that always has work ready (a channel, socket or pipe that
    /// never runs dry) uses up the task's budget at every poll, and a timer polled
    /// after that answers "not yet" whatever the time, so the limit would never come.
    struct Waiting {
        #[pin]
        timer: Option<tokio::task::Unconstrained<tokio::time::Sleep>>,
        limit: Duration,
        #[pin]
        cancelled: WaitForCancellationFutureOwned,
    }
}

impl Waiting {
    fn new(
        deadline: Option<(Duration, std::time::Instant)>,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Self {
        let (limit, timer) = match deadline {
            Some((limit, at)) => (
                limit,
                Some(tokio::task::unconstrained(tokio::time::sleep_until(
                    tokio::time::Instant::from_std(at),
                ))),
            ),
            None => (Duration::ZERO, None),
        };
        Self {
            timer,
            limit,
            cancelled: cancel.cancelled_owned(),
        }
    }

    /// After the body was polled and is pending: whether the call ended anyway (its time
    /// ran out, checked first, or the request was cancelled).
    fn ended(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ran<Returned>> {
        let this = self.project();
        if let Some(timer) = this.timer.as_pin_mut()
            && timer.poll(cx).is_ready()
        {
            return Poll::Ready(Ran::TimedOut(*this.limit));
        }
        match this.cancelled.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Ran::Cancelled),
            Poll::Pending => Poll::Pending,
        }
    }
}
