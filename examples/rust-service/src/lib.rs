//! A Rust service of its own, in a crate that depends on worker-bridge and builds its own wasm
//! module: `word-count` keeps a tally of the words in the texts it is sent. Everything from the
//! first `use` to the end of `start` is the README's "Services in Rust" example, verbatim
//! (`tests/readme.rs` checks it); so is `register_tasks`, the README's Rust task example (`sum`,
//! a task for `bridge.tasks`). `npm test` runs the unit tests below natively and
//! `tests/web.rs` in a browser, against this crate built as a package, in a worker and on the
//! main thread.
//!
//! ```js
//! await bridge.services.register('words', { rust: 'word-count' }, { placement: 'worker', config: { maxDistinct: 500 } });
//! await bridge.services.start('words');
//! await bridge.services.send('words', { op: 'add', text: 'The cat and the hat' }); // { words: 5, distinct: 4 }
//! await bridge.services.send('words', { op: 'top', n: 1 });                       // [{ word: 'the', count: 2 }]
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use worker_bridge::services::{register_configured_service, Health, Service, ServiceError};

/// Counts words; refuses to keep more than `max_distinct` different ones.
struct WordCount {
    max_distinct: usize,
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Msg {
    Add { text: String }, // count the words of `text`
    Top { n: usize },     // the `n` most frequent words
}

#[derive(Serialize)]
#[serde(untagged)]
enum Reply {
    Added { words: u64, distinct: usize }, // { words, distinct }
    Top(Vec<Tally>),                       // [{ word, count }, ...]
}

#[derive(Serialize)]
struct Tally {
    word: String,
    count: u64,
}

impl Service for WordCount {
    type Context = BTreeMap<String, u64>; // fresh (empty) at every start, kept across messages
    type Message = Msg; // from the JS value sent
    type Reply = Reply; // to a JS value

    fn on_message(&self, msg: Msg, counts: &mut Self::Context) -> Result<Reply, ServiceError> {
        match msg {
            Msg::Add { text } => {
                let mut batch = BTreeMap::<String, u64>::new();
                for word in words(&text) {
                    *batch.entry(word).or_default() += 1;
                }
                let new = batch.keys().filter(|w| !counts.contains_key(*w)).count();
                if counts.len() + new > self.max_distinct {
                    // An error fails this message only, and leaves the counts as they were.
                    let message = format!("more than {} distinct words", self.max_distinct);
                    return Err(ServiceError::new("QuotaExceededError", message));
                }
                let words = batch.values().sum();
                for (word, n) in batch {
                    *counts.entry(word).or_default() += n;
                }
                Ok(Reply::Added { words, distinct: counts.len() })
            }
            Msg::Top { n } => {
                let mut top: Vec<Tally> =
                    counts.iter().map(|(word, &count)| Tally { word: word.clone(), count }).collect();
                top.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.word.cmp(&b.word)));
                top.truncate(n);
                Ok(Reply::Top(top))
            }
        }
    }

    fn health(&self, counts: &Self::Context) -> Health {
        Health::healthy(format!("{} distinct words", counts.len()))
    }
}

/// The words of `text`, lowercased: runs of letters, digits and inner apostrophes.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Its settings: the registration's `config`, `{ maxDistinct }` (optional).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Limits {
    max_distinct: usize,
}

// Runs in every instance of this module (the page's and each service's), so all know the name.
#[wasm_bindgen(start)]
fn start() {
    // Each service made from `{ rust: 'word-count' }` gets its registration's config, typed;
    // without one, 10,000 distinct words.
    register_configured_service("word-count", |limits: Option<Limits>| WordCount {
        max_distinct: limits.map_or(10_000, |l| l.max_distinct),
    });
    // And this crate's task (see "Your own tasks").
    register_tasks();
}

use worker_bridge::tasks::{register_task, TaskContext, TaskError};

/// This crate's task: `bridge.tasks.register('sum', { rust: 'sum' })`, then
/// `bridge.tasks.run('sum', [1, 2, 3.5])` resolves to 6.5.
fn register_tasks() {
    register_task("sum", |numbers: Vec<f64>, ctx: &mut TaskContext<'_>| {
        ctx.progress(numbers.len() as u64, numbers.len() as u64);
        if numbers.is_empty() {
            return Err(TaskError::named("RangeError", "nothing to sum"));
        }
        Ok(numbers.iter().sum::<f64>())
    });
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};
    use worker_bridge::services::Instance;

    use super::*;

    /// Sends `message` as the JavaScript value it stands for; answers the reply as JSON.
    fn send(service: &mut Instance<WordCount>, message: Value) -> Result<Value, ServiceError> {
        let message = serde_json::from_value(message).expect("a message the service understands");
        service.message(message).map(|reply| serde_json::to_value(reply).expect("a reply that serializes"))
    }

    fn started(max_distinct: usize) -> Instance<WordCount> {
        let mut service = Instance::new(WordCount { max_distinct });
        service.start().unwrap();
        service
    }

    #[test]
    fn the_config_is_read_into_limits() {
        use worker_bridge::services::Config;
        let limits: Option<Limits> = Config::parse(Some(r#"{ "maxDistinct": 3 }"#)).unwrap();
        assert_eq!(limits.map(|l| l.max_distinct), Some(3));
        assert!(Config::parse::<Option<Limits>>(None).unwrap().is_none(), "no config: the default");
        let wrong = Config::parse::<Option<Limits>>(Some(r#"{ "maxDistinct": "3" }"#)).err();
        assert_eq!(wrong.map(|e| e.name).as_deref(), Some("ValidationError"));
    }

    #[test]
    fn counts_words_across_messages() {
        let mut s = started(100);
        assert_eq!(
            send(&mut s, json!({ "op": "add", "text": "The cat and the hat." })),
            Ok(json!({ "words": 5, "distinct": 4 }))
        );
        assert_eq!(
            send(&mut s, json!({ "op": "add", "text": "THE END, the end" })),
            Ok(json!({ "words": 4, "distinct": 5 }))
        );
        assert_eq!(
            send(&mut s, json!({ "op": "top", "n": 3 })),
            Ok(json!([{ "word": "the", "count": 4 }, { "word": "end", "count": 2 }, { "word": "and", "count": 1 }])),
            "by count, then alphabetically"
        );
        assert_eq!(send(&mut s, json!({ "op": "top", "n": 0 })), Ok(json!([])));
        assert_eq!(send(&mut s, json!({ "op": "top", "n": 99 })).unwrap().as_array().unwrap().len(), 5);
        assert_eq!(s.health(), Health::healthy("5 distinct words"));
    }

    #[test]
    fn words_are_letters_digits_and_inner_apostrophes() {
        let got: Vec<String> = words("Don't 'quote' me: Straße, café, 42nd -- x2!").collect();
        assert_eq!(got, ["don't", "quote", "me", "straße", "café", "42nd", "x2"]);
        assert_eq!(words(" ... '' -- ").count(), 0);
    }

    #[test]
    fn a_message_over_the_quota_fails_alone_and_changes_nothing() {
        let mut s = started(3);
        send(&mut s, json!({ "op": "add", "text": "a b" })).unwrap();
        let error = send(&mut s, json!({ "op": "add", "text": "a c d" })).unwrap_err();
        assert_eq!(error, ServiceError::new("QuotaExceededError", "more than 3 distinct words"));
        assert_eq!(
            send(&mut s, json!({ "op": "top", "n": 9 })),
            Ok(json!([{ "word": "a", "count": 1 }, { "word": "b", "count": 1 }]))
        );
        assert_eq!(send(&mut s, json!({ "op": "add", "text": "a b c a" })), Ok(json!({ "words": 4, "distinct": 3 })));
        assert_eq!(
            send(&mut s, json!({ "op": "add", "text": "b b" })),
            Ok(json!({ "words": 2, "distinct": 3 })),
            "known words still count"
        );
    }

    #[test]
    fn every_start_begins_empty_and_a_stopped_service_refuses_messages() {
        let mut s = started(10);
        send(&mut s, json!({ "op": "add", "text": "one two" })).unwrap();
        s.stop().unwrap();
        assert_eq!(send(&mut s, json!({ "op": "top", "n": 1 })).unwrap_err().name, "ServiceStateError");
        assert!(!s.health().healthy);
        s.start().unwrap();
        assert_eq!(send(&mut s, json!({ "op": "top", "n": 5 })), Ok(json!([])));
        assert_eq!(s.health(), Health::healthy("0 distinct words"));
    }

    #[test]
    fn malformed_messages_do_not_decode() {
        for message in [
            json!({ "op": "explode" }),
            json!({ "op": "add" }),
            json!({ "op": "top", "n": -1 }),
            json!({ "op": "top", "n": 1.5 }),
            json!({ "text": "no op" }),
        ] {
            assert!(serde_json::from_value::<Msg>(message.clone()).is_err(), "{message} decoded");
        }
    }
}
