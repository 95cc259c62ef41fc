//! The driving loop: inputs from sockets and the timer into the core, its outputs out.
//!
//! Single-threaded, like everything on a page: the state is an `Rc<Shared>`, and socket and
//! timer callbacks hold a `Weak` to it, so dropping the [`crate::RtmCore`] frees everything
//! (its sockets and timer detach their handlers when dropped).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::{Rc, Weak};

use rtm_proto::{Client, ClientConfig, ClientInput, ClientOutput, Timestamp, TransportId};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::events;
use crate::socket::{Socket, SocketEvent};
use crate::timer::Timer;

#[wasm_bindgen]
extern "C" {
    /// `performance.now()`: monotonic milliseconds, in pages and workers alike.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(js_name = queueMicrotask)]
    fn queue_microtask(f: &js_sys::Function);
    /// `crypto.getRandomValues(array)`.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(array: &js_sys::Uint8Array);
}

/// Milliseconds on the driver's monotonic clock.
fn now_ms() -> f64 {
    performance_now()
}

fn timestamp(ms: f64) -> Timestamp {
    Timestamp::from_millis(ms.max(0.0) as u64)
}

/// 64 bits from the browser's cryptographic generator.
fn random_seed() -> u64 {
    let array = js_sys::Uint8Array::new_with_length(8);
    get_random_values(&array);
    let mut bytes = [0u8; 8];
    array.copy_to(&mut bytes);
    u64::from_le_bytes(bytes)
}

/// What the core and its IO share.
pub(crate) struct Driver {
    pub(crate) client: Client,
    url: String,
    sockets: BTreeMap<TransportId, Socket>,
    timer: Option<Timer>,
    /// Events (as JSON) the application has not heard yet.
    events: VecDeque<String>,
}

/// The driver and its delivery state, behind one `Rc`.
pub(crate) struct Shared {
    pub(crate) driver: RefCell<Driver>,
    on_event: js_sys::Function,
    /// Set while events are being handed to the application: a listener that calls back
    /// into the client queues its events behind the ones being delivered, in order.
    delivering: Cell<bool>,
    /// A microtask delivery is already queued.
    delivery_queued: Cell<bool>,
    deliver_later: RefCell<Option<Closure<dyn FnMut()>>>,
}

impl Shared {
    pub(crate) fn new(url: String, app_id: String, on_event: js_sys::Function) -> Rc<Shared> {
        let config = ClientConfig {
            app_id,
            ..ClientConfig::default()
        };
        let now = now_ms();
        let client = Client::new(
            config,
            random_seed(),
            timestamp(now),
            js_sys::Date::now() as u64,
        );
        let shared = Rc::new(Shared {
            driver: RefCell::new(Driver {
                client,
                url,
                sockets: BTreeMap::new(),
                timer: None,
                events: VecDeque::new(),
            }),
            on_event,
            delivering: Cell::new(false),
            delivery_queued: Cell::new(false),
            deliver_later: RefCell::new(None),
        });
        let weak = Rc::downgrade(&shared);
        let timer = Timer::new(move || {
            if let Some(shared) = weak.upgrade() {
                shared.on_timer();
            }
        });
        shared.driver.borrow_mut().timer = Some(timer);
        let weak = Rc::downgrade(&shared);
        *shared.deliver_later.borrow_mut() = Some(Closure::new(move || {
            if let Some(shared) = weak.upgrade() {
                shared.delivery_queued.set(false);
                shared.deliver();
            }
        }));
        shared
    }

    /// The core's clock reading for a call made now.
    pub(crate) fn now(&self) -> Timestamp {
        timestamp(now_ms())
    }

    /// After a command: carry out its outputs now, hand its events over once the caller has
    /// its return value (a microtask later).
    pub(crate) fn after_command(self: &Rc<Self>) {
        self.pump();
        if self.driver.borrow().events.is_empty() || self.delivery_queued.get() {
            return;
        }
        self.delivery_queued.set(true);
        if let Some(f) = self.deliver_later.borrow().as_ref() {
            queue_microtask(f.as_ref().unchecked_ref());
        }
    }

    fn on_timer(self: &Rc<Self>) {
        {
            let mut d = self.driver.borrow_mut();
            if let Some(t) = d.timer.as_mut() {
                t.fired();
            }
            let now = self.now();
            d.client.handle_input(now, ClientInput::Tick);
        }
        self.pump();
        self.deliver();
    }

    fn on_socket(self: &Rc<Self>, transport: TransportId, event: SocketEvent) {
        {
            let mut d = self.driver.borrow_mut();
            let input = match event {
                SocketEvent::Opened => ClientInput::Opened(transport),
                SocketEvent::Frame(bytes) => ClientInput::Frame(transport, bytes),
                SocketEvent::Closed => {
                    d.sockets.remove(&transport);
                    ClientInput::Closed(transport)
                }
            };
            let now = self.now();
            d.client.handle_input(now, input);
        }
        self.pump();
        self.deliver();
    }

    /// Carries out every queued output and re-arms the timer.
    fn pump(self: &Rc<Self>) {
        let mut d = self.driver.borrow_mut();
        while let Some(out) = d.client.poll_output() {
            // A transport that failed to open or to take a frame: reported closed at once
            // (the core may then ask for more outputs, which this loop drains).
            let broken = match out {
                ClientOutput::Connect(t) => {
                    let weak: Weak<Shared> = Rc::downgrade(self);
                    let report = move |t: TransportId, e: SocketEvent| {
                        if let Some(shared) = weak.upgrade() {
                            shared.on_socket(t, e);
                        }
                    };
                    match Socket::open(&d.url, t, report) {
                        Ok(socket) => {
                            d.sockets.insert(t, socket);
                            None
                        }
                        // A URL the browser refuses: the link failed to open; the core
                        // retries with backoff and its login times out with the §8 code.
                        Err(_) => Some(t),
                    }
                }
                ClientOutput::Send(t, frame) => match d.sockets.get(&t) {
                    Some(socket) if !socket.send(&frame) => {
                        d.sockets.remove(&t);
                        Some(t)
                    }
                    _ => None,
                },
                ClientOutput::Close(t, code) => {
                    if let Some(socket) = d.sockets.remove(&t) {
                        socket.close(code);
                    }
                    None
                }
                ClientOutput::Event(e) => {
                    let json = events::to_json(&e).to_string();
                    d.events.push_back(json);
                    None
                }
                // The SDK's `Transfer` of that request carries it out (`sdk/src/media.js`);
                // queued with the events, so it follows what came before it.
                ClientOutput::Transfer(order) => {
                    d.events.push_back(events::transfer_json(&order));
                    None
                }
            };
            if let Some(t) = broken {
                let now = self.now();
                d.client.handle_input(now, ClientInput::Closed(t));
            }
        }
        let now = now_ms();
        let deadline = d.client.poll_timeout().map(|t| t.as_millis() as f64);
        if let Some(timer) = d.timer.as_mut() {
            timer.arm(now, deadline);
        }
    }

    /// Hands queued events to the application one at a time, holding no borrow while its
    /// listener runs.
    fn deliver(&self) {
        if self.delivering.replace(true) {
            return;
        }
        loop {
            let next = self.driver.borrow_mut().events.pop_front();
            let Some(json) = next else { break };
            // A throwing listener must not stop the others' events.
            let _ = self
                .on_event
                .call1(&JsValue::NULL, &JsValue::from_str(&json));
        }
        self.delivering.set(false);
    }

    /// Closes every socket and stops the timer (the page is going away or the client is
    /// freed).
    pub(crate) fn shut_down(&self) {
        let mut d = self.driver.borrow_mut();
        d.sockets.clear();
        d.timer = None;
    }
}
