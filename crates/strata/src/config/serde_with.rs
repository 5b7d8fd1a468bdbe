//! Serde helpers for configuration values written as text (durations, policies).

/// Serde for `BTreeMap<String, Duration>` written as humantime strings.
pub(crate) mod duration_map {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        m: &BTreeMap<String, Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let text: BTreeMap<&String, String> = m
            .iter()
            .map(|(k, d)| (k, humantime::format_duration(*d).to_string()))
            .collect();
        text.serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Duration>, D::Error> {
        let text = BTreeMap::<String, String>::deserialize(d)?;
        text.into_iter()
            .map(|(k, v)| {
                humantime::parse_duration(&v)
                    .map(|d| (k.clone(), d))
                    .map_err(|e| {
                        serde::de::Error::custom(format!(
                            "ttl of kind `{k}`: {v:?} is not a duration ({e})"
                        ))
                    })
            })
            .collect()
    }
}

/// Serde for [`EvictionPolicy`] as its lowercase name.
pub(crate) mod policy {
    use serde::{Deserialize, Deserializer, Serializer};
    use strata_eviction::EvictionPolicy;

    pub(crate) fn serialize<S: Serializer>(p: &EvictionPolicy, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(p.as_str())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<EvictionPolicy, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
