//! `[quota]`: the calendar the quota windows follow (time zone, first day of the week), the
//! default plan, how long mutation ids and holds live, and the named plans (a table, like the
//! rate-limit policies, so plans have no flags or CONFIG names). The quota arithmetic itself
//! is in `crate::quota`.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use super::declare::settings;
use super::values::named_enum;
use super::{invalid, ConfigError};
use crate::duration::{DurationMs, MAX_DURATION_MS};

settings! {
    /// `[quota]`: the calendar of the windows, the default plan, id and hold lifetimes, plans.
    pub struct QuotaConfig in quota;

    /// IANA time zone in which day, week and month windows start ("UTC", "Europe/Paris",
    /// "America/New_York"); the zone database is compiled in, so daylight-saving days have
    /// 23 or 25 hours as the zone says.
    timezone: String = "UTC".to_string(), config "tollgate-quota-timezone", fixed,
        check(check_timezone), flag "quota-timezone";
    /// First day of a week window.
    week_start: Weekday = Weekday::Monday, config "tollgate-quota-week-start", fixed,
        flag "quota-week-start";
    /// Plan of a subject with no PLAN argument and none stored by QUOTA.PLAN.
    default_plan: String = "freemium".to_string(), config "tollgate-quota-default-plan", fixed,
        flag "quota-default-plan";
    /// How long a mutation ID is remembered, so that a retry is replayed, not applied twice.
    idempotency_ttl: DurationMs = DurationMs::from_hours(24),
        config "tollgate-quota-idempotency-ttl", fixed, range(1, MAX_DURATION_MS),
        flag "quota-idempotency-ttl";
    /// TTL of a QUOTA.RESERVE hold without TTL: the hold of a worker that died without SETTLE
    /// or CANCEL is released after this long.
    hold_ttl: DurationMs = DurationMs::from_mins(15), config "tollgate-quota-hold-ttl", fixed,
        range(1, MAX_DURATION_MS), flag "quota-hold-ttl";

    tables;
    /// `[quota.plans.<name>]`. Default: the seeds' `freemium`, `pay_as_you_go`,
    /// `pro_monthly` and `pro_annual` (see [`default_plans`]).
    plans: BTreeMap<String, Plan> = default_plans();
}

named_enum! {
    /// `quota.week_start`: the day a week window starts.
    #[derive(Default)]
    pub enum Weekday {
        #[default]
        Monday = "monday",
        Tuesday = "tuesday",
        Wednesday = "wednesday",
        Thursday = "thursday",
        Friday = "friday",
        Saturday = "saturday",
        Sunday = "sunday",
    }
}

impl Weekday {
    /// Days after Monday (Monday 0, Sunday 6).
    pub fn monday_offset(self) -> i8 {
        match self {
            Weekday::Monday => 0,
            Weekday::Tuesday => 1,
            Weekday::Wednesday => 2,
            Weekday::Thursday => 3,
            Weekday::Friday => 4,
            Weekday::Saturday => 5,
            Weekday::Sunday => 6,
        }
    }
}

named_enum! {
    /// A calendar window of a quota metric, aligned in `quota.timezone`; ordered shortest
    /// first.
    #[derive(PartialOrd, Ord)]
    pub enum Window {
        Minute = "minute",
        Hour = "hour",
        Day = "day",
        Week = "week",
        Month = "month",
    }
}

impl Window {
    /// Every window, shortest first (the order of `windows` in replies).
    pub const ALL: [Window; 5] = [
        Window::Minute,
        Window::Hour,
        Window::Day,
        Window::Week,
        Window::Month,
    ];
}

/// `warn_at` of a plan that does not set it: `warn` from 80 %, `critical` from 95 %.
pub const DEFAULT_WARN_AT: [u32; 2] = [80, 95];

/// The seeds' plans (SPEC, "Quotas"): tokens per day and month, calls per hour.
pub fn default_plans() -> BTreeMap<String, Plan> {
    let plan = |day, month, hour| Plan {
        concurrent: None,
        warn_at: DEFAULT_WARN_AT.to_vec(),
        metrics: BTreeMap::from([
            (
                "tokens".to_string(),
                MetricLimits {
                    day: Some(day),
                    month: Some(month),
                    ..MetricLimits::default()
                },
            ),
            (
                "calls".to_string(),
                MetricLimits {
                    hour: Some(hour),
                    ..MetricLimits::default()
                },
            ),
        ]),
    };
    [
        ("freemium", plan(10_000, 100_000, 100)),
        ("pay_as_you_go", plan(50_000, 500_000, 500)),
        ("pro_monthly", plan(1_000_000, 30_000_000, 5_000)),
        ("pro_annual", plan(2_000_000, 60_000_000, 10_000)),
    ]
    .into_iter()
    .map(|(n, p)| (n.to_string(), p))
    .collect()
}

/// The zone must be in the compiled-in database (or a fixed offset jiff accepts).
fn check_timezone(name: &str) -> Result<(), String> {
    match jiff::tz::TimeZone::get(name) {
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "unknown time zone '{name}': expected an IANA name such as \"UTC\", \
             \"Europe/Paris\" or \"America/New_York\""
        )),
    }
}

/// `[quota.plans.<name>]`: optional `concurrent` and `warn_at`, and one sub-table per metric,
/// `[quota.plans.<name>.<metric>]`, whose keys are windows. Any key that is not `concurrent`
/// or `warn_at` names a metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Most holds (`QUOTA.RESERVE`) open at once. Default: no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrent: Option<u64>,
    /// Percentages of a window's limit at which the level becomes `warn` and then
    /// `critical` (at most two, increasing, 1..=100). Default `[80, 95]`.
    pub warn_at: Vec<u32>,
    /// Limits per metric name (`tokens`, `calls`, any name).
    #[serde(flatten)]
    pub metrics: BTreeMap<String, MetricLimits>,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            concurrent: None,
            warn_at: DEFAULT_WARN_AT.to_vec(),
            metrics: BTreeMap::new(),
        }
    }
}

impl<'de> Deserialize<'de> for Plan {
    // Hand-written rather than `#[serde(flatten)]` so that a misspelt key gets an error that
    // says what a plan may contain instead of "expected struct MetricLimits".
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let table = BTreeMap::<String, toml::Value>::deserialize(d)?;
        let mut plan = Plan::default();
        for (key, value) in table {
            match key.as_str() {
                "concurrent" => {
                    plan.concurrent = Some(
                        u64::deserialize(value)
                            .map_err(|e| de::Error::custom(format!("concurrent: {e}")))?,
                    );
                }
                "warn_at" => {
                    plan.warn_at = Vec::<u32>::deserialize(value)
                        .map_err(|e| de::Error::custom(format!("warn_at: {e}")))?;
                }
                metric => {
                    if !value.is_table() {
                        return Err(de::Error::custom(format!(
                            "`{metric}` is neither `concurrent`, `warn_at` nor a metric table \
                             (a metric is a table of windows, e.g. `{metric} = {{ day = 10000 }}`)"
                        )));
                    }
                    let limits = MetricLimits::deserialize(value)
                        .map_err(|e| de::Error::custom(format!("metric `{metric}`: {e}")))?;
                    plan.metrics.insert(key, limits);
                }
            }
        }
        Ok(plan)
    }
}

impl Plan {
    /// The limits of `metric`.
    pub fn metric(&self, metric: &str) -> Option<&MetricLimits> {
        self.metrics.get(metric)
    }
}

/// `[quota.plans.<plan>.<metric>]`: the limit per calendar window; a window left out is
/// unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricLimits {
    /// Per calendar minute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minute: Option<u64>,
    /// Per calendar hour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hour: Option<u64>,
    /// Per calendar day.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<u64>,
    /// Per calendar week (from `quota.week_start`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub week: Option<u64>,
    /// Per calendar month.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub month: Option<u64>,
}

impl MetricLimits {
    /// The limit of one window.
    pub fn get(&self, window: Window) -> Option<u64> {
        match window {
            Window::Minute => self.minute,
            Window::Hour => self.hour,
            Window::Day => self.day,
            Window::Week => self.week,
            Window::Month => self.month,
        }
    }

    /// The limited windows, shortest first (the order of `windows` in replies).
    pub fn windows(&self) -> impl Iterator<Item = (Window, u64)> + '_ {
        Window::ALL
            .into_iter()
            .filter_map(|w| self.get(w).map(|limit| (w, limit)))
    }
}

impl QuotaConfig {
    /// The plan called `name`.
    pub fn plan(&self, name: &str) -> Option<&Plan> {
        self.plans.get(name)
    }

    /// The zone of `timezone` (UTC if it does not resolve, which validation rules out).
    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.timezone).unwrap_or(jiff::tz::TimeZone::UTC)
    }

    /// Adds the built-in plans that a file did not name.
    pub(super) fn merge_builtin(&mut self) {
        for (name, plan) in default_plans() {
            self.plans.entry(name).or_insert(plan);
        }
    }

    /// Checks the default plan and every plan; the error names the plan and metric.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !self.plans.contains_key(&self.default_plan) {
            return Err(invalid(
                "quota.default_plan",
                format!(
                    "plan '{}' is not defined; defined plans: {}",
                    self.default_plan,
                    self.plans.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        for (name, plan) in &self.plans {
            let base = format!("quota.plans.{name}");
            check_name(&base, name)?;
            if plan.metrics.is_empty() {
                return Err(invalid(
                    &base,
                    "has no metrics; add e.g. [quota.plans.NAME.tokens] with day = 10000",
                ));
            }
            if plan.concurrent == Some(0) {
                return Err(invalid(
                    format!("{base}.concurrent"),
                    "must be at least 1 (leave it out for no limit)",
                ));
            }
            check_warn_at(&format!("{base}.warn_at"), &plan.warn_at)?;
            for (metric, limits) in &plan.metrics {
                let field = format!("{base}.{metric}");
                check_name(&field, metric)?;
                if limits.windows().next().is_none() {
                    return Err(invalid(
                        &field,
                        "sets no window; give at least one of minute, hour, day, week, month",
                    ));
                }
                if let Some((w, _)) = limits.windows().find(|(_, limit)| *limit == 0) {
                    return Err(invalid(
                        format!("{field}.{w}"),
                        "must be at least 1 (leave the window out for no limit)",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Plan and metric names travel as command arguments and a window is named
/// `<metric>/<window>`, so names must be typeable and free of `/`.
fn check_name(field: &str, name: &str) -> Result<(), ConfigError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        return Err(invalid(
            field,
            format!("name '{name}' must be non-empty without spaces, control characters or '/'"),
        ));
    }
    Ok(())
}

/// At most two percentages (warn, critical), increasing, each 1..=100.
fn check_warn_at(field: &str, warn_at: &[u32]) -> Result<(), ConfigError> {
    if warn_at.len() > 2 {
        return Err(invalid(
            field,
            "takes at most two percentages: [warn, critical]",
        ));
    }
    if warn_at.iter().any(|p| !(1..=100).contains(p)) {
        return Err(invalid(field, "percentages must be between 1 and 100"));
    }
    if warn_at.windows(2).any(|w| w[0] >= w[1]) {
        return Err(invalid(
            field,
            "must be increasing: the warn level comes before critical",
        ));
    }
    Ok(())
}
