//! `[cache.types]` as the cache uses it: the types in name order with dense ids, each with its
//! default TTL, shared flag and per-plan overrides, built once from the config, and the rule
//! that gives a new entry its TTL.

use crate::config::{CacheConfig, PlanTtl};

/// A cache type's id: its position in name order, `0..len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(pub u16);

/// What a type gives a subject's new entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// The subject's plan may not cache this type.
    Off,
    /// The entry never expires.
    Never,
    /// The entry expires this many milliseconds after it is written (never 0).
    Ms(u64),
}

impl Ttl {
    /// A TTL in milliseconds as the config and the TTL argument spell it: 0 = never.
    fn from_ms(ms: u64) -> Ttl {
        match ms {
            0 => Ttl::Never,
            ms => Ttl::Ms(ms),
        }
    }
}

/// One resolved type.
#[derive(Debug, Clone)]
struct Type {
    name: Box<str>,
    shared: bool,
    /// `ttl` of the config: [`Ttl::Never`] or [`Ttl::Ms`].
    default: Ttl,
    /// The plans that differ, sorted by name (a binary search finds one).
    plans: Box<[(Box<str>, Ttl)]>,
}

/// `[cache.types]`, ready for the commands.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Sorted by name (the config's map is), so a type's index is its id and a name is found
    /// by binary search without a second map.
    types: Vec<Type>,
}

impl Catalog {
    /// Resolves the types of a validated config. Validation bounds their number to
    /// [`crate::config::cache::MAX_TYPES`]; were it skipped, the types beyond what a
    /// [`TypeId`] can number are left out rather than given clashing ids.
    pub fn from_config(c: &CacheConfig) -> Catalog {
        let types = c
            .types
            .iter()
            .take(usize::from(u16::MAX) + 1)
            .map(|(name, t)| Type {
                name: name.as_str().into(),
                shared: t.shared,
                default: Ttl::from_ms(t.ttl.0),
                plans: t
                    .plans
                    .iter()
                    .map(|(plan, ttl)| {
                        let ttl = match ttl {
                            PlanTtl::Off => Ttl::Off,
                            PlanTtl::Ttl(d) => Ttl::from_ms(d.0),
                        };
                        (plan.as_str().into(), ttl)
                    })
                    .collect(),
            })
            .collect();
        Catalog { types }
    }

    /// The id of the type called `name`: an exact, case-sensitive match of its bytes.
    pub fn type_id(&self, name: &[u8]) -> Option<TypeId> {
        let i = self
            .types
            .binary_search_by(|t| t.name.as_bytes().cmp(name))
            .ok()?;
        u16::try_from(i).ok().map(TypeId)
    }

    fn get(&self, id: TypeId) -> Option<&Type> {
        self.types.get(usize::from(id.0))
    }

    /// The name of type `id`; empty for an id this catalog did not give.
    pub fn type_name(&self, id: TypeId) -> &str {
        self.get(id).map_or("", |t| &t.name)
    }

    /// Whether entries of type `id` are shared by all subjects (false for an unknown id).
    pub fn is_shared(&self, id: TypeId) -> bool {
        self.get(id).is_some_and(|t| t.shared)
    }

    /// Number of types.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// Every type with its id, in id order, which is name order.
    pub fn types(&self) -> impl Iterator<Item = (TypeId, &str)> {
        // `from_config` keeps at most u16::MAX + 1 types, so every index fits.
        (0..=u16::MAX)
            .map(TypeId)
            .zip(self.types.iter().map(|t| &*t.name))
    }

    /// The TTL of a new entry of type `id` for a subject on `plan` (the PLAN argument, else
    /// the plan stored by QUOTA.PLAN; `None` if neither): `explicit` (the TTL argument in
    /// ms, 0 = never) if given, except that a plan that disables the type gives
    /// [`Ttl::Off`] whatever the argument; else the plan's override; else the type's
    /// default. A plan the type does not name (or an unknown plan) uses the default. An id
    /// this catalog did not give is [`Ttl::Off`]: nothing is cached under a type that does
    /// not exist.
    pub fn ttl(&self, id: TypeId, plan: Option<&str>, explicit: Option<u64>) -> Ttl {
        let Some(t) = self.get(id) else {
            return Ttl::Off;
        };
        let plan_ttl = plan.and_then(|p| {
            t.plans
                .binary_search_by(|(name, _)| (**name).cmp(p))
                .ok()
                .and_then(|i| t.plans.get(i))
                .map(|(_, ttl)| *ttl)
        });
        match (plan_ttl, explicit) {
            (Some(Ttl::Off), _) => Ttl::Off,
            (_, Some(ms)) => Ttl::from_ms(ms),
            (Some(ttl), None) => ttl,
            (None, None) => t.default,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const MIN: u64 = 60_000;

    fn seeds() -> Catalog {
        Catalog::from_config(&Config::default().cache)
    }

    fn id(c: &Catalog, name: &str) -> TypeId {
        c.type_id(name.as_bytes()).unwrap()
    }

    #[test]
    fn ids_are_dense_in_name_order() {
        let c = seeds();
        assert_eq!((c.len(), c.is_empty()), (6, false));
        let listed: Vec<(TypeId, &str)> = c.types().collect();
        let names = [
            "content",
            "embedding",
            "extraction",
            "query",
            "session",
            "system",
        ];
        let want: Vec<(TypeId, &str)> = (0..).map(TypeId).zip(names).collect();
        assert_eq!(listed, want);
        for (i, name) in want {
            assert_eq!(c.type_id(name.as_bytes()), Some(i));
            assert_eq!(c.type_name(i), name);
        }
    }

    #[test]
    fn names_match_exactly() {
        let c = seeds();
        for miss in [
            &b"Session"[..],
            b"session ",
            b"sessio",
            b"",
            b"\xffsession",
            b"zzz",
        ] {
            assert_eq!(c.type_id(miss), None, "{miss:?}");
        }
    }

    #[test]
    fn an_unknown_id_is_harmless() {
        let c = seeds();
        let bad = TypeId(6);
        assert_eq!(c.type_name(bad), "");
        assert!(!c.is_shared(bad));
        assert_eq!(c.ttl(bad, None, Some(1_000)), Ttl::Off);
        let empty = Catalog::default();
        assert!(empty.is_empty());
        assert_eq!(empty.types().count(), 0);
        assert_eq!(empty.type_id(b"session"), None);
    }

    #[test]
    fn shared_flag() {
        let c = seeds();
        assert!(c.is_shared(id(&c, "system")));
        for name in ["session", "content", "extraction", "query", "embedding"] {
            assert!(!c.is_shared(id(&c, name)), "{name}");
        }
    }

    /// SPEC's table: the seeds' defaults, pro_annual's overrides, freemium and pay_as_you_go
    /// off, pro_monthly on the defaults.
    #[test]
    fn seed_ttls_per_plan() {
        let c = seeds();
        let cases = [
            ("system", None, Ttl::Never),
            ("system", Some("freemium"), Ttl::Never),
            ("session", None, Ttl::Ms(30 * MIN)),
            ("session", Some("pro_monthly"), Ttl::Ms(30 * MIN)),
            ("session", Some("pro_annual"), Ttl::Ms(60 * MIN)),
            ("session", Some("freemium"), Ttl::Off),
            ("session", Some("pay_as_you_go"), Ttl::Off),
            ("content", None, Ttl::Ms(60 * MIN)),
            ("content", Some("pro_annual"), Ttl::Ms(120 * MIN)),
            ("content", Some("freemium"), Ttl::Off),
            ("content", Some("pay_as_you_go"), Ttl::Off),
            ("extraction", Some("pro_monthly"), Ttl::Ms(45 * MIN)),
            ("extraction", Some("pro_annual"), Ttl::Ms(90 * MIN)),
            ("extraction", Some("freemium"), Ttl::Off),
            ("extraction", Some("pay_as_you_go"), Ttl::Off),
            ("query", Some("freemium"), Ttl::Ms(60 * MIN)),
            ("query", Some("pro_annual"), Ttl::Ms(60 * MIN)),
            ("embedding", Some("pay_as_you_go"), Ttl::Ms(24 * 60 * MIN)),
        ];
        for (name, plan, want) in cases {
            assert_eq!(c.ttl(id(&c, name), plan, None), want, "{name} {plan:?}");
        }
    }

    #[test]
    fn explicit_beats_plan_and_default() {
        let c = seeds();
        let session = id(&c, "session");
        assert_eq!(c.ttl(session, None, Some(5_000)), Ttl::Ms(5_000));
        assert_eq!(
            c.ttl(session, Some("pro_annual"), Some(5_000)),
            Ttl::Ms(5_000)
        );
        assert_eq!(c.ttl(session, Some("pro_monthly"), Some(1)), Ttl::Ms(1));
        // An explicit 0 is "never", over a default and an override that expire.
        assert_eq!(c.ttl(session, Some("pro_annual"), Some(0)), Ttl::Never);
        // And an explicit TTL makes a never-expiring type expire.
        assert_eq!(c.ttl(id(&c, "system"), None, Some(7)), Ttl::Ms(7));
    }

    #[test]
    fn off_beats_explicit() {
        let c = seeds();
        for name in ["session", "content", "extraction"] {
            for plan in ["freemium", "pay_as_you_go"] {
                for explicit in [None, Some(0), Some(1_000)] {
                    assert_eq!(
                        c.ttl(id(&c, name), Some(plan), explicit),
                        Ttl::Off,
                        "{name} {plan} {explicit:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn an_unknown_plan_gets_the_default() {
        let c = seeds();
        let session = id(&c, "session");
        for plan in ["gold", "", "Freemium", "pro_annual "] {
            assert_eq!(
                c.ttl(session, Some(plan), None),
                Ttl::Ms(30 * MIN),
                "{plan:?}"
            );
        }
        assert_eq!(c.ttl(session, Some("gold"), Some(9)), Ttl::Ms(9));
    }

    /// `ttl = "0"` is Never, as a type default and as a plan's override.
    #[test]
    fn zero_is_never() {
        let cfg = Config::from_toml_str(
            "[cache.types.forever]\nttl = \"0\"\n\n\
             [cache.types.pinned]\nttl = \"10m\"\nplans = { pro_annual = \"0\", freemium = 0 }\n",
        )
        .unwrap();
        cfg.validate().unwrap();
        let c = Catalog::from_config(&cfg.cache);
        assert_eq!(c.len(), 8);
        let forever = id(&c, "forever");
        assert_eq!(c.ttl(forever, None, None), Ttl::Never);
        assert_eq!(c.ttl(forever, Some("pro_annual"), None), Ttl::Never);
        assert!(!c.is_shared(forever));
        let pinned = id(&c, "pinned");
        assert_eq!(c.ttl(pinned, Some("pro_annual"), None), Ttl::Never);
        assert_eq!(c.ttl(pinned, Some("freemium"), None), Ttl::Never);
        assert_eq!(c.ttl(pinned, Some("pro_monthly"), None), Ttl::Ms(10 * MIN));
    }

    /// Ids follow byte order, whatever order the file lists the types in.
    #[test]
    fn file_order_does_not_matter() {
        let cfg = Config::from_toml_str(
            "[cache.types.b]\nttl = 1\n[cache.types.A]\nttl = 2\n[cache.types.a]\nttl = 3\n",
        )
        .unwrap();
        let c = Catalog::from_config(&cfg.cache);
        let names: Vec<&str> = c.types().map(|(_, n)| n).collect();
        assert_eq!(
            names,
            [
                "A",
                "a",
                "b",
                "content",
                "embedding",
                "extraction",
                "query",
                "session",
                "system"
            ]
        );
        assert_eq!(c.ttl(id(&c, "A"), None, None), Ttl::Ms(2_000));
        assert_eq!(c.ttl(id(&c, "a"), None, None), Ttl::Ms(3_000));
    }
}
