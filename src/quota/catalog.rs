//! The quota configuration as the operations use it: the plans, the calendar (its zone
//! resolved once, not per operation), the default plan and the lifetimes, with an encoding
//! for the journal (so a replay runs on the plans the operations ran on, even after the
//! config file changed).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{Plan, QuotaConfig, Weekday};

use super::state::{Params, QuotaError};
use super::window::Calendar;

/// `[quota]`, ready for the operations.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub plans: BTreeMap<String, Plan>,
    pub calendar: Calendar,
    pub default_plan: String,
    pub idempotency_ttl_ms: u64,
    pub hold_ttl_ms: u64,
    timezone: String,
}

/// The encoded form: TOML text, readable in a hex dump and parsed by the config's own plan
/// parser.
#[derive(Serialize, Deserialize)]
struct Doc {
    timezone: String,
    week_start: Weekday,
    default_plan: String,
    idempotency_ttl_ms: u64,
    hold_ttl_ms: u64,
    plans: BTreeMap<String, Plan>,
}

impl Catalog {
    pub fn from_config(q: &QuotaConfig) -> Catalog {
        Catalog {
            plans: q.plans.clone(),
            calendar: Calendar::from_config(q),
            default_plan: q.default_plan.clone(),
            idempotency_ttl_ms: q.idempotency_ttl.0,
            hold_ttl_ms: q.hold_ttl.0,
            timezone: q.timezone.clone(),
        }
    }

    /// The parameters of an operation under `plan`.
    pub fn params<'a>(&'a self, plan: &'a Plan) -> Params<'a> {
        Params {
            plan,
            calendar: &self.calendar,
            idempotency_ttl_ms: self.idempotency_ttl_ms,
            hold_ttl_ms: self.hold_ttl_ms,
            max_ids: super::DEFAULT_MAX_IDS,
            ledger_len: super::DEFAULT_LEDGER_LEN,
        }
    }

    /// The plan of an operation: the `PLAN` argument, else the subject's stored plan, else
    /// the default; an unknown name is [`QuotaError::NoPlan`].
    pub fn resolve(
        &self,
        argument: Option<&str>,
        stored: Option<&str>,
    ) -> Result<(&str, &Plan), QuotaError> {
        super::resolve_plan(&self.plans, argument, stored, &self.default_plan)
    }

    /// The catalog as TOML; an error if a plan cannot be written as TOML (it was read from
    /// it, so only a bug makes this fail; an empty record would stop the next start).
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        let doc = Doc {
            timezone: self.timezone.clone(),
            week_start: self.calendar.week_start,
            default_plan: self.default_plan.clone(),
            idempotency_ttl_ms: self.idempotency_ttl_ms,
            hold_ttl_ms: self.hold_ttl_ms,
            plans: self.plans.clone(),
        };
        toml::to_string(&doc)
            .map(String::into_bytes)
            .map_err(|e| format!("quota catalog: {e}"))
    }

    pub fn decode(bytes: &[u8]) -> Result<Catalog, String> {
        let text = std::str::from_utf8(bytes).map_err(|e| format!("quota catalog: {e}"))?;
        let doc: Doc = toml::from_str(text).map_err(|e| format!("quota catalog: {e}"))?;
        let tz = jiff::tz::TimeZone::get(&doc.timezone)
            .map_err(|e| format!("quota catalog: time zone {:?}: {e}", doc.timezone))?;
        Ok(Catalog {
            plans: doc.plans,
            calendar: Calendar {
                tz,
                week_start: doc.week_start,
            },
            default_plan: doc.default_plan,
            idempotency_ttl_ms: doc.idempotency_ttl_ms,
            hold_ttl_ms: doc.hold_ttl_ms,
            timezone: doc.timezone,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_the_default_config() {
        let mut q = QuotaConfig {
            timezone: "America/New_York".to_string(),
            week_start: Weekday::Sunday,
            ..Default::default()
        };
        q.plans.get_mut("freemium").unwrap().concurrent = Some(3);
        let c = Catalog::from_config(&q);
        let back = Catalog::decode(&c.encode().unwrap()).unwrap();
        assert_eq!(back.plans, c.plans);
        assert_eq!(back.default_plan, "freemium");
        assert_eq!(back.calendar.week_start, Weekday::Sunday);
        assert_eq!(back.timezone, "America/New_York");
        assert_eq!(back.idempotency_ttl_ms, 86_400_000);
        assert!(Catalog::decode(b"\xff").is_err());
        assert!(Catalog::decode(b"timezone = 1").is_err());
    }
}
