//! The bottom of the browser edge: what every layer above needs from JavaScript and nothing
//! more — timers and a frame ticker, a yield to the page's event loop, polling it while a message
//! is due, the cancel flag a driver checks, JS error conversion, and the URL of the generated
//! glue. Nothing here knows about calls, pools or services.

pub(crate) mod awake;
pub(crate) mod cancel;
pub(crate) mod glue;
pub(crate) mod js_error;
pub(crate) mod names;
pub(crate) mod threads;
pub(crate) mod ticker;
pub(crate) mod timer;
pub(crate) mod yielding;

pub(crate) use ticker::FrameTicker;
