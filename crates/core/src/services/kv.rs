//! The built-in `kv` service: a key-value store kept in the service's context (so it lives as
//! long as the service runs, and a restart empties it). Keys are strings, values any JSON value.
//!
//! ```js
//! await bridge.services.register('store', { rust: 'kv' }, { placement: 'worker' });
//! await bridge.services.start('store');
//! await bridge.services.send('store', { op: 'set', key: 'theme', value: { dark: true } }); // → null
//! await bridge.services.send('store', { op: 'get', key: 'theme' });                       // → { dark: true }
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::service::{Health, Service, ServiceError};

/// See the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct KvStore;

/// What the store understands: `{ op: 'get' | 'set' | 'delete' | 'has' | 'keys' | 'entries' |
/// 'clear' | 'size', key?, value? }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum KvMessage {
    /// The value under `key`, or `null`.
    Get {
        /// The key.
        key: String,
    },
    /// Stores `value` under `key`; answers the value it replaced, or `null`.
    Set {
        /// The key.
        key: String,
        /// Any JSON value.
        value: Value,
    },
    /// Removes `key`; answers whether it was there.
    Delete {
        /// The key.
        key: String,
    },
    /// Whether `key` is there.
    Has {
        /// The key.
        key: String,
    },
    /// Every key, sorted.
    Keys,
    /// Every `[key, value]` pair, sorted by key.
    Entries,
    /// Removes everything; answers how many entries there were.
    Clear,
    /// How many entries there are.
    Size,
}

impl Service for KvStore {
    type Context = BTreeMap<String, Value>;
    type Message = KvMessage;
    type Reply = Value;

    fn on_message(&self, message: KvMessage, store: &mut Self::Context) -> Result<Value, ServiceError> {
        Ok(match message {
            KvMessage::Get { key } => store.get(&key).cloned().unwrap_or(Value::Null),
            KvMessage::Set { key, value } => store.insert(key, value).unwrap_or(Value::Null),
            KvMessage::Delete { key } => Value::Bool(store.remove(&key).is_some()),
            KvMessage::Has { key } => Value::Bool(store.contains_key(&key)),
            KvMessage::Keys => store.keys().map(|k| Value::String(k.clone())).collect(),
            KvMessage::Entries => {
                store.iter().map(|(k, v)| Value::Array(vec![Value::String(k.clone()), v.clone()])).collect()
            }
            KvMessage::Clear => {
                let n = store.len();
                store.clear();
                Value::from(n)
            }
            KvMessage::Size => Value::from(store.len()),
        })
    }

    fn health(&self, store: &Self::Context) -> Health {
        Health::healthy(format!("{} keys", store.len()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::services::Instance;

    fn send(kv: &mut Instance<KvStore>, message: Value) -> Value {
        kv.message(serde_json::from_value(message).unwrap()).unwrap()
    }

    #[test]
    fn stores_reads_and_forgets() {
        let mut kv = Instance::new(KvStore);
        kv.start().unwrap();
        assert_eq!(send(&mut kv, json!({ "op": "get", "key": "a" })), Value::Null);
        assert_eq!(send(&mut kv, json!({ "op": "set", "key": "b", "value": [1, { "x": true }] })), Value::Null);
        assert_eq!(send(&mut kv, json!({ "op": "set", "key": "a", "value": 1 })), Value::Null);
        assert_eq!(send(&mut kv, json!({ "op": "set", "key": "a", "value": "two" })), json!(1));
        assert_eq!(send(&mut kv, json!({ "op": "get", "key": "a" })), json!("two"));
        assert_eq!(send(&mut kv, json!({ "op": "has", "key": "b" })), json!(true));
        assert_eq!(send(&mut kv, json!({ "op": "keys" })), json!(["a", "b"]));
        assert_eq!(send(&mut kv, json!({ "op": "entries" })), json!([["a", "two"], ["b", [1, { "x": true }]]]));
        assert_eq!(send(&mut kv, json!({ "op": "size" })), json!(2));
        assert_eq!(send(&mut kv, json!({ "op": "delete", "key": "a" })), json!(true));
        assert_eq!(send(&mut kv, json!({ "op": "delete", "key": "a" })), json!(false));
        assert_eq!(kv.health(), Health::healthy("1 keys"));
        assert_eq!(send(&mut kv, json!({ "op": "clear" })), json!(1));
        kv.stop().unwrap();
        kv.start().unwrap();
        assert_eq!(send(&mut kv, json!({ "op": "size" })), json!(0), "a restart begins empty");
    }

    #[test]
    fn unknown_or_incomplete_messages_do_not_parse() {
        assert!(serde_json::from_value::<KvMessage>(json!({ "op": "explode" })).is_err());
        assert!(serde_json::from_value::<KvMessage>(json!({ "op": "set", "key": "a" })).is_err());
        assert!(serde_json::from_value::<KvMessage>(json!({ "key": "a" })).is_err());
    }
}
