//! A shorter path over HTTP for `equa_listOffers`, the query a market's visitors ask most.
//!
//! jsonrpsee serializes a method's result and then parses the text again to check that it is
//! JSON before sending it. An offer page is tens of kilobytes built from views that were
//! serialized once and cached, so that second parse was a third of the server's time under
//! load. This HTTP layer answers a single `equa_listOffers` call itself, with the same method
//! body and the same response that jsonrpsee would send, and hands everything else — batches,
//! notifications, other methods, WebSocket upgrades, and every call that fails — to jsonrpsee
//! unchanged, so errors keep exactly one source.

use crate::{Backend, book::BookCache, method, observe::Observation, server::list_offers};
use jsonrpsee::{
    core::{
        BoxError,
        http_helpers::{HttpError, read_body},
    },
    server::{
        HttpBody, HttpRequest, HttpResponse,
        http::{content_type_is_json, response},
    },
    types::{Request, Response, ResponsePayload},
};
use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};
use tower::{Layer, Service};

/// Adds the offer-list path in front of the JSON-RPC service.
#[derive(Clone)]
pub struct OfferListLayer {
    shared: Arc<Shared>,
}

struct Shared {
    backend: Arc<dyn Backend>,
    /// Where the calls this path answers are reported; the rest are reported by jsonrpsee's.
    observation: Option<Observation>,
    books: Arc<BookCache>,
    max_request_body_bytes: u32,
    max_response_body_bytes: u32,
}

impl OfferListLayer {
    /// Answers from `books` over `backend`: the same book cache the registered method uses.
    pub fn new(
        backend: Arc<dyn Backend>,
        books: Arc<BookCache>,
        max_request_body_bytes: u32,
        max_response_body_bytes: u32,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                backend,
                observation: None,
                books,
                max_request_body_bytes,
                max_response_body_bytes,
            }),
        }
    }
}

impl OfferListLayer {
    /// Reports each call this path answers, as the server's middleware reports the others.
    pub(crate) fn observed(self, observation: Observation) -> Self {
        let shared = &self.shared;
        Self {
            shared: Arc::new(Shared {
                backend: shared.backend.clone(),
                books: shared.books.clone(),
                max_request_body_bytes: shared.max_request_body_bytes,
                max_response_body_bytes: shared.max_response_body_bytes,
                observation: Some(observation),
            }),
        }
    }
}

impl std::fmt::Debug for OfferListLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfferListLayer").finish_non_exhaustive()
    }
}

impl<S> Layer<S> for OfferListLayer {
    type Service = OfferList<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OfferList {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`OfferListLayer`] makes.
#[derive(Clone)]
pub struct OfferList<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> std::fmt::Debug for OfferList<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfferList").finish_non_exhaustive()
    }
}

impl<S> Service<HttpRequest> for OfferList<S>
where
    S: Service<HttpRequest, Response = HttpResponse, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        if request.method().as_str() != "POST" || !content_type_is_json(&request) {
            return Box::pin(self.inner.call(request));
        }
        // The service that was made ready is the one to call; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            // Read as jsonrpsee reads it, with the same limit and the same answers on failure.
            let (body, single) =
                match read_body(&parts.headers, body, shared.max_request_body_bytes).await {
                    Ok(read) => read,
                    Err(HttpError::TooLarge) => {
                        return Ok(response::too_large(shared.max_request_body_bytes));
                    }
                    Err(HttpError::Malformed) => return Ok(response::malformed()),
                    Err(HttpError::Stream(_)) => return Ok(response::internal_error()),
                };
            let started = std::time::Instant::now();
            if single && let Some(answer) = shared.answer(&body) {
                if let Some(observation) = &shared.observation {
                    observation.report(method::LIST_OFFERS, started, true);
                }
                return Ok(response::ok_response(answer));
            }
            inner
                .call(HttpRequest::from_parts(parts, HttpBody::from(body)))
                .await
        })
    }
}

impl Shared {
    /// The response body for a single successful `equa_listOffers` call; `None` for anything
    /// else, which jsonrpsee then answers.
    fn answer(&self, body: &[u8]) -> Option<Vec<u8>> {
        let request: Request<'_> = serde_json::from_slice(body).ok()?;
        if request.method != method::LIST_OFFERS {
            return None;
        }
        let page = list_offers(&*self.backend, &self.books, &request.params()).ok()?;
        let answer = Response::new(ResponsePayload::success(page), request.id);
        let json = serde_json::to_vec(&answer).ok()?;
        (json.len() <= self.max_response_body_bytes as usize).then_some(json)
    }
}
