//! `WorkerBridge.create(options)`: the options as JavaScript passes them, validated into the
//! [`Settings`] a bridge starts with. Every default comes from `worker_bridge_core::defaults`.

use serde::Deserialize;
use wasm_bindgen::JsValue;

use super::input::{absolute_url, milliseconds, parse_options};
use crate::defaults;
use crate::error::Error;
use crate::executor::Fallback;
use crate::ops::engine::EngineChoice;
use crate::pool::PoolConfig;
use crate::scheduler::{Strategy, TimeoutFrom};
use crate::services::origin;
use worker_bridge_core::pool::{arrangement, Arrangement, ThreadsChoice};

/// `WorkerBridge.create(options)`, as passed.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct CreateOptions {
    pool_size: Option<u32>,
    fallback: Fallback,
    strategy: Strategy,
    max_queue: Option<u32>,
    timeout_ms: Option<f64>,
    timeout_from: TimeoutFrom,
    retries: Option<u32>,
    health_interval_ms: Option<f64>,
    cancel_grace_ms: Option<f64>,
    max_in_flight_per_worker: Option<u32>,
    busy_poll_us: Option<u32>,
    engine: EngineChoice,
    service_origins: Vec<String>,
    threads: Option<Threads>,
}

/// `threads`: `false`, `true` (the default) or threads per worker.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Threads {
    Enabled(bool),
    PerWorker(u32),
}

const KEYS: &[&str] = &[
    "poolSize",
    "fallback",
    "strategy",
    "maxQueue",
    "timeoutMs",
    "timeoutFrom",
    "retries",
    "healthIntervalMs",
    "cancelGraceMs",
    "maxInFlightPerWorker",
    "busyPollUs",
    "engine",
    "serviceOrigins",
    "threads",
    "workerUrl",
];

/// What a bridge starts with.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) pool: PoolConfig,
    pub(crate) fallback: Fallback,
    /// Per-call default; 0 = none.
    pub(crate) timeout_ms: u32,
    /// Per-call default.
    pub(crate) timeout_from: TimeoutFrom,
    /// Which engine may run the crypto ops.
    pub(crate) engine: EngineChoice,
    pub(crate) retries: u32,
    /// Origins besides the page's that service handler modules may come from, normalised.
    pub(crate) service_origins: Vec<String>,
}

impl Settings {
    /// Reads and checks `options` (`undefined` for every default).
    ///
    /// # Errors
    /// `ValidationError` for an unknown key or a value out of range.
    pub(crate) fn from_js(options: &JsValue) -> Result<Settings, Error> {
        let mut settings = Self::from_options(parse_options(options, "WorkerBridge options", KEYS, &["workerUrl"])?)?;
        settings.pool.worker_url = worker_url(options)?;
        Ok(settings)
    }

    /// Every default.
    pub(crate) fn defaults() -> Result<Settings, Error> {
        Self::from_options(CreateOptions::default())
    }

    fn from_options(options: CreateOptions) -> Result<Settings, Error> {
        let max_queue = options.max_queue.map_or(defaults::MAX_QUEUE, |n| n as usize);
        if max_queue == 0 {
            return Err(Error::validation("maxQueue must be at least 1"));
        }
        let pool_size = options.pool_size.map(|n| check_pool_size(n, "poolSize")).transpose()?;
        let threads = match options.threads {
            None | Some(Threads::Enabled(true)) => ThreadsChoice::Auto,
            Some(Threads::Enabled(false)) => ThreadsChoice::Off,
            Some(Threads::PerWorker(n)) if (1..=defaults::MAX_POOL_SIZE).contains(&n) => ThreadsChoice::PerWorker(n),
            Some(Threads::PerWorker(n)) => {
                return Err(Error::validation(format!(
                    "threads must be a boolean or 1..={}, got {n}",
                    defaults::MAX_POOL_SIZE
                )))
            }
        };
        let cores = cores();
        let Arrangement { workers: size, threads } = arrangement(cores, pool_size, threads, cfg!(feature = "threads"));
        let retries = options.retries.unwrap_or(defaults::RETRIES);
        if retries > defaults::MAX_RETRIES {
            return Err(Error::validation(format!("retries must be at most {}", defaults::MAX_RETRIES)));
        }
        let max_in_flight = options.max_in_flight_per_worker.unwrap_or(defaults::MAX_IN_FLIGHT_PER_WORKER);
        if !(1..=defaults::MAX_IN_FLIGHT_LIMIT).contains(&max_in_flight) {
            return Err(Error::validation(format!(
                "maxInFlightPerWorker must be 1..={}, got {max_in_flight}",
                defaults::MAX_IN_FLIGHT_LIMIT
            )));
        }
        let busy_poll_us = options.busy_poll_us.unwrap_or(defaults::BUSY_POLL_US);
        if busy_poll_us > defaults::MAX_BUSY_POLL_US {
            return Err(Error::validation(format!(
                "busyPollUs must be 0..={}, got {busy_poll_us}",
                defaults::MAX_BUSY_POLL_US
            )));
        }
        let ms = |value: Option<f64>, default: u32, what: &str| value.map_or(Ok(default), |ms| milliseconds(ms, what));
        Ok(Settings {
            pool: PoolConfig {
                size: size as usize,
                strategy: options.strategy,
                max_queue,
                health_interval_ms: ms(options.health_interval_ms, defaults::HEALTH_INTERVAL_MS, "healthIntervalMs")?,
                cancel_grace_ms: ms(options.cancel_grace_ms, defaults::CANCEL_GRACE_MS, "cancelGraceMs")?,
                max_in_flight,
                busy_poll_us,
                threads,
                cores,
                worker_url: None,
            },
            fallback: options.fallback,
            timeout_ms: ms(options.timeout_ms, defaults::TIMEOUT_MS, "timeoutMs")?,
            timeout_from: options.timeout_from,
            engine: options.engine,
            retries,
            service_origins: options
                .service_origins
                .iter()
                .map(|o| origin::parse_origin(o))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// `workerUrl`: a string or a `URL`, resolved against the page (`None` when not given).
fn worker_url(options: &JsValue) -> Result<Option<String>, Error> {
    if !options.is_object() {
        return Ok(None);
    }
    let value = js_sys::Reflect::get(options, &"workerUrl".into()).unwrap_or_default();
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let text = value
        .as_string()
        .or_else(|| js_sys::Reflect::get(&value, &"href".into()).ok().and_then(|h| h.as_string()))
        .ok_or_else(|| Error::validation("workerUrl must be a URL or a string"))?;
    absolute_url(&text).map(Some)
}

/// `n` if it is a pool size a bridge will run (`what` names the option in the error).
///
/// # Errors
/// `ValidationError` outside `1..=MAX_POOL_SIZE`.
pub(crate) fn check_pool_size(n: u32, what: &str) -> Result<u32, Error> {
    if (1..=defaults::MAX_POOL_SIZE).contains(&n) {
        Ok(n)
    } else {
        Err(Error::validation(format!("{what} must be 1..={}, got {n}", defaults::MAX_POOL_SIZE)))
    }
}

/// `navigator.hardwareConcurrency` (2 when the browser does not say).
fn cores() -> u32 {
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &"navigator".into())
        .and_then(|n| js_sys::Reflect::get(&n, &"hardwareConcurrency".into()))
        .ok()
        .and_then(|c| c.as_f64())
        .unwrap_or(2.0) as u32
}
