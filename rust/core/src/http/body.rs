//! Response bodies: a fixed buffer, or an SSE stream with keep-alive comments.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::any::Any;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{interval_at, Instant, Interval};

pub enum HttpBody {
    Full(Option<Bytes>),
    Sse(SseBody),
}

pub struct SseBody {
    rx: mpsc::Receiver<Bytes>,
    keepalive: Option<Interval>,
    /// Held for as long as the stream is open (an in-flight permit, the one-GET-stream flag).
    _guards: Vec<Box<dyn Any + Send + Sync>>,
}

impl SseBody {
    pub fn new(
        rx: mpsc::Receiver<Bytes>,
        keepalive: Option<Duration>,
        guards: Vec<Box<dyn Any + Send + Sync>>,
    ) -> Self {
        let keepalive = keepalive.map(|period| interval_at(Instant::now() + period, period));
        SseBody { rx, keepalive, _guards: guards }
    }
}

impl HttpBody {
    pub fn empty() -> Self {
        HttpBody::Full(None)
    }

    pub fn bytes(b: impl Into<Bytes>) -> Self {
        HttpBody::Full(Some(b.into()))
    }
}

/// An SSE comment: ignored by clients, keeps proxies and NAT tables from closing an idle stream.
const KEEPALIVE: &[u8] = b": keep-alive\n\n";

impl Body for HttpBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            HttpBody::Full(data) => Poll::Ready(data.take().map(|b| Ok(Frame::data(b)))),
            HttpBody::Sse(sse) => match sse.rx.poll_recv(cx) {
                Poll::Ready(Some(b)) => Poll::Ready(Some(Ok(Frame::data(b)))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => {
                    let tick = sse.keepalive.as_mut().is_some_and(|interval| interval.poll_tick(cx).is_ready());
                    if tick {
                        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(KEEPALIVE)))))
                    } else {
                        Poll::Pending
                    }
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, HttpBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            HttpBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            HttpBody::Full(None) => SizeHint::with_exact(0),
            HttpBody::Sse(_) => SizeHint::default(),
        }
    }
}
