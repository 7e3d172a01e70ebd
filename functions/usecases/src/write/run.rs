//! The tail every write shares, whichever edge it came through: claim the key, run the write
//! (or settle the interrupted first run under its own id), keep the answer for replays or hand
//! the claim over when the answer is one a retry should not get. The edge decides what the
//! write is and what its answer looks like on the wire; this decides the order.

use std::future::Future;
use std::time::Duration;

use berth_store::StoredResponse;

use crate::app::App;
use crate::error::UseCaseError;
use crate::write::claim::{self, ClaimAsk, ClaimStart, Finish};
use crate::write::measure::{Measured, measure_write};

/// Which request a run is: its id, and whether it settles an interrupted first run.
#[derive(Debug, Clone)]
pub struct Started {
    pub request_id: String,
    pub resumed: bool,
}

/// A write's answer as the edge sends it. An answer with `retry_after` (the request failed in
/// a way a retry may fix, or ran out of time) is not kept: the retry settles the request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<Duration>,
}

/// How a write went.
#[derive(Debug)]
pub enum WriteAnswer<T> {
    /// The key's first answer, replayed: nothing ran.
    Replay(StoredResponse),
    /// The key could not be claimed (used for another request, or its request still runs).
    ClaimRefused(UseCaseError),
    /// The write ran under `request_id`; `answer` is what `answer_of` made of its outcome.
    Ran {
        request_id: String,
        outcome: T,
        answer: Answer,
    },
}

/// Claims `ask`'s key, runs `write` for the request it names, and keeps `answer_of(outcome)`
/// on the claim (or ends the claim's lease when the answer says retry).
pub async fn run<T, Fut>(
    app: &App,
    ask: ClaimAsk,
    write: impl FnOnce(Started) -> Fut,
    answer_of: impl FnOnce(&T) -> Answer,
) -> WriteAnswer<T>
where
    T: Measured,
    Fut: Future<Output = T>,
{
    let fresh_id = ask.request_id.clone();
    let source = ask.source.clone();
    let (held, started) = match claim::begin(&*app.store, ask).await {
        Ok(ClaimStart::Fresh(held)) => (
            held,
            Started {
                request_id: fresh_id,
                resumed: false,
            },
        ),
        Ok(ClaimStart::Resumed { held, request_id }) => (
            Some(held),
            Started {
                request_id,
                resumed: true,
            },
        ),
        Ok(ClaimStart::Replay(stored)) => return WriteAnswer::Replay(stored),
        Err(e) => return WriteAnswer::ClaimRefused(e),
    };
    let request_id = started.request_id.clone();
    let took_over = started.resumed;
    let began = std::time::Instant::now();
    let outcome = write(started).await;
    measure_write(app, &source, &outcome, began.elapsed(), took_over);
    let answer = answer_of(&outcome);
    let finish = if answer.retry_after.is_some() {
        Finish::Unanswered
    } else {
        Finish::Answered {
            status: answer.status,
            body: &answer.body,
        }
    };
    claim::finish(&*app.store, held, finish).await;
    WriteAnswer::Ran {
        request_id,
        outcome,
        answer,
    }
}
