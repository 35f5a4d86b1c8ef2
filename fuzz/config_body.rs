// The body of the `config` fuzz target, shared with `tests/config_fuzz_smoke.rs` through
// `include!` so stable CI runs the same checks over deterministic inputs.
//
// The input is split at its first NUL byte: the part before is a config file (TOML), the part
// after a CONFIG SET request (pairs separated by NUL bytes). Checks: parsing a file never
// panics, and a file that loads and validates (as `config::load` does) has CONFIG GET values
// that, set back with CONFIG SET onto the defaults, read back the same (what CONFIG GET shows
// is something CONFIG SET accepts); an arbitrary CONFIG SET never panics, and one that fails
// changes nothing.

use tollgate::config::{config_get, config_set, params, Config};

/// Every parameter's value, by name.
fn snapshot(cfg: &Config) -> Vec<(String, String)> {
    let names: Vec<&[u8]> = params().iter().map(|p| p.name.as_bytes()).collect();
    config_get(cfg, &names, |_, _| false)
}

fn check_config(data: &[u8]) {
    let (file, request) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    if let Ok(text) = std::str::from_utf8(file) {
        if let Some(cfg) = Config::from_toml_str(text)
            .ok()
            .filter(|c| c.validate().is_ok())
        {
            let settable: Vec<(Vec<u8>, Vec<u8>)> = params()
                .iter()
                .filter(|p| p.set.is_some())
                .map(|p| (p.name.as_bytes().to_vec(), (p.get)(&cfg).into_bytes()))
                .collect();
            let pairs: Vec<(&[u8], &[u8])> = settable
                .iter()
                .map(|(n, v)| (n.as_slice(), v.as_slice()))
                .collect();
            let mut copy = Config::default();
            if let Err(e) = config_set(&mut copy, &pairs) {
                panic!("CONFIG SET refused what CONFIG GET showed: {e}\nfile: {text:?}");
            }
            let shown = |c: &Config| {
                snapshot(c)
                    .into_iter()
                    .filter(|(n, _)| pairs.iter().any(|(p, _)| p == &n.as_bytes()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(shown(&copy), shown(&cfg), "file: {text:?}");
        }
    }
    let parts: Vec<&[u8]> = request.split(|&b| b == 0).collect();
    let pairs: Vec<(&[u8], &[u8])> = parts.chunks_exact(2).map(|p| (p[0], p[1])).collect();
    let mut cfg = Config::default();
    let before = snapshot(&cfg);
    if config_set(&mut cfg, &pairs).is_err() {
        assert_eq!(snapshot(&cfg), before, "a failed CONFIG SET changed something");
    } else {
        assert!(cfg.validate().is_ok(), "CONFIG SET let an invalid value in: {pairs:?}");
    }
}
