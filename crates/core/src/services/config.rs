//! A service's configuration: the `config` given to `register(name, definition, { config })` (or
//! in a `services.load()` entry). It is JSON — so it can come from a file or a remote, and so one
//! module can run twice with different settings — checked once at registration and carried to
//! the host with the service's load. A JavaScript service sees it as `ctx.config` in every hook (a
//! fresh copy at every start); a Rust service registered with a typed config gets it deserialized
//! into its own type when it is created, and a config that does not fit that type fails the start
//! with `ValidationError`.
//!
//! ```
//! use serde::Deserialize;
//! use worker_bridge_core::services::Config;
//!
//! #[derive(Deserialize)]
//! struct Limits { max_distinct: usize }
//!
//! let config = Config::from_json(r#"{ "max_distinct": 500 }"#).unwrap();
//! let limits: Limits = Config::parse(Some(config.as_json())).unwrap();
//! assert_eq!(limits.max_distinct, 500);
//! // No config at all reads as JSON `null`: an `Option` config is then `None`.
//! assert!(Config::parse::<Option<Limits>>(None).unwrap().is_none());
//! ```

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::service::ServiceError;
use crate::error::Error;

/// A service's configuration, checked to be JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    value: Value,
    json: String,
}

impl Config {
    /// Reads a configuration from its JSON text (what `JSON.stringify` made of the caller's
    /// value).
    ///
    /// # Errors
    /// `ValidationError` when `text` is not JSON.
    pub fn from_json(text: &str) -> Result<Config, Error> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::validation(format!("a service's config must be JSON: {e}")))?;
        Ok(Config { json: value.to_string(), value })
    }

    /// The configuration as a JSON value (what travels to the host).
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The configuration as JSON text.
    pub fn as_json(&self) -> &str {
        &self.json
    }

    /// Deserializes a configuration's JSON text (`None`: no config, read as `null`) into a Rust
    /// service's own config type.
    ///
    /// # Errors
    /// A `ValidationError` saying why the config does not fit `C`.
    pub fn parse<C: DeserializeOwned>(json: Option<&str>) -> Result<C, ServiceError> {
        serde_json::from_str(json.unwrap_or("null"))
            .map_err(|e| ServiceError::invalid(format!("the service's config does not fit its type: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Settings {
        from: u64,
        #[serde(default)]
        label: Option<String>,
    }

    #[test]
    fn json_is_kept_and_anything_else_is_a_validation_error() {
        let c = Config::from_json(r#" { "from": 3, "label": "x" } "#).unwrap();
        assert_eq!(c.value()["from"], 3);
        assert_eq!(c.as_json(), r#"{"from":3,"label":"x"}"#);
        assert_eq!(Config::from_json("[1, 2]").unwrap().value(), &serde_json::json!([1, 2]));
        for bad in ["", "undefined", "{", "{ from: 1 }"] {
            assert_eq!(Config::from_json(bad).unwrap_err().kind(), crate::ErrorKind::Validation, "{bad:?}");
        }
    }

    #[test]
    fn a_typed_config_is_deserialized_or_fails_the_start_with_a_validation_error() {
        let c = Config::from_json(r#"{ "from": 3 }"#).unwrap();
        assert_eq!(Config::parse::<Settings>(Some(c.as_json())), Ok(Settings { from: 3, label: None }));
        let wrong = Config::parse::<Settings>(Some(r#"{ "from": "three" }"#)).unwrap_err();
        assert_eq!(wrong.name, "ValidationError");
        assert!(wrong.message.contains("does not fit"), "{}", wrong.message);
        assert_eq!(Config::parse::<Settings>(Some(r#"{ "from": 1, "x": 0 }"#)).unwrap_err().name, "ValidationError");
        // No config reads as null: fine for an Option or (), not for a struct.
        assert_eq!(Config::parse::<Option<Settings>>(None), Ok(None));
        Config::parse::<()>(None).unwrap();
        assert_eq!(Config::parse::<Settings>(None).unwrap_err().name, "ValidationError");
    }
}
