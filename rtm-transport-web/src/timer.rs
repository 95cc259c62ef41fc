//! The driver's one timer, armed at the core's `poll_timeout`.
//!
//! In a page, a background tab's `setTimeout` fires at most once a second, and after a few
//! minutes hidden as seldom as once a minute (Chrome's intensive throttling). The core's
//! heartbeat is every 2 s and the server calls a silent user unreachable, so a throttled
//! timer would flap the user's presence. Timers in a dedicated worker are not throttled that
//! way, so the timer lives in a six-line worker built from a `Blob`; its `message` event
//! reaches the page promptly. Where workers are unavailable (a CSP without `blob:` workers,
//! a worker context), it falls back to `setTimeout`.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, BlobPropertyBag, Url, Worker};

/// The worker: a message arms (milliseconds) or disarms (negative) the one timeout, which
/// posts back when it fires.
const WORKER_SOURCE: &str = "let t = null;\n\
onmessage = (e) => {\n\
  if (t !== null) { clearTimeout(t); t = null; }\n\
  if (e.data >= 0) { t = setTimeout(() => { t = null; postMessage(0); }, e.data); }\n\
};\n";

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
}

enum Backend {
    /// The worker and its script's object URL (revoked with the timer: the worker loads its
    /// script asynchronously).
    Worker(Worker, String),
    /// The pending `setTimeout` handle, if armed.
    Timeout(Option<JsValue>),
}

pub(crate) struct Timer {
    backend: Backend,
    on_fire: Closure<dyn FnMut(JsValue)>,
    /// The delay last armed for, to skip re-arming an unchanged deadline.
    armed_at: Option<f64>,
}

impl Timer {
    /// A timer that calls `fire` when it expires.
    pub(crate) fn new(fire: impl FnMut() + 'static) -> Timer {
        let mut fire = fire;
        let on_fire = Closure::<dyn FnMut(JsValue)>::new(move |_| fire());
        let backend = match spawn_worker() {
            Some((worker, url)) => {
                worker.set_onmessage(Some(on_fire.as_ref().unchecked_ref()));
                Backend::Worker(worker, url)
            }
            None => Backend::Timeout(None),
        };
        Timer {
            backend,
            on_fire,
            armed_at: None,
        }
    }

    /// Fires at `deadline` (ms on the driver's monotonic clock, now being `now`), or never.
    pub(crate) fn arm(&mut self, now: f64, deadline: Option<f64>) {
        if deadline == self.armed_at {
            return;
        }
        self.armed_at = deadline;
        let delay = deadline.map(|d| (d - now).max(0.0).ceil());
        match &mut self.backend {
            Backend::Worker(worker, _) => {
                let _ = worker.post_message(&JsValue::from_f64(delay.unwrap_or(-1.0)));
            }
            Backend::Timeout(handle) => {
                if let Some(h) = handle.take() {
                    clear_timeout(&h);
                }
                if let Some(delay) = delay {
                    *handle = Some(set_timeout(self.on_fire.as_ref().unchecked_ref(), delay));
                }
            }
        }
    }

    /// The timer fired: the next `arm` must arm again even for the same deadline.
    pub(crate) fn fired(&mut self) {
        self.armed_at = None;
        if let Backend::Timeout(handle) = &mut self.backend {
            *handle = None;
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        match &mut self.backend {
            Backend::Worker(worker, url) => {
                worker.set_onmessage(None);
                worker.terminate();
                let _ = Url::revoke_object_url(url);
            }
            Backend::Timeout(handle) => {
                if let Some(h) = handle.take() {
                    clear_timeout(&h);
                }
            }
        }
    }
}

/// The timer worker, or `None` where the page may not start one.
fn spawn_worker() -> Option<(Worker, String)> {
    let parts = js_sys::Array::of1(&JsValue::from_str(WORKER_SOURCE));
    let options = BlobPropertyBag::new();
    options.set_type("text/javascript");
    let blob = Blob::new_with_str_sequence_and_options(&parts, &options).ok()?;
    let url = Url::create_object_url_with_blob(&blob).ok()?;
    match Worker::new(&url) {
        Ok(worker) => Some((worker, url)),
        Err(_) => {
            let _ = Url::revoke_object_url(&url);
            None
        }
    }
}
