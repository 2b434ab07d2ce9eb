//! The three places a setting can come from — a TOML file, `VCA_*` environment
//! variables and command-line flags — merged in rising precedence.
//!
//! Every setting has one snake_case key (`admin_listen`); its environment form is
//! `VCA_` + the key in capitals (`VCA_ADMIN_LISTEN`) and its flag `--admin-listen`.

use std::collections::HashMap;
use std::path::Path;

use super::ConfigError;

/// Where the value of a setting came from, reported by `check-config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The built-in default.
    Default,
    /// The TOML file given with `--config`.
    File,
    /// A `VCA_*` environment variable.
    Env,
    /// A command-line flag.
    Flag,
}

impl Source {
    /// A short word for output.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File => "config file",
            Source::Env => "environment",
            Source::Flag => "flag",
        }
    }
}

/// The raw values of every layer, before validation.
#[derive(Debug, Default, Clone)]
pub struct Layers {
    file: HashMap<String, String>,
    env: HashMap<String, String>,
    flags: HashMap<String, String>,
}

/// The environment variable name of a setting key.
pub fn env_name(key: &str) -> String {
    format!("VCA_{}", key.to_ascii_uppercase())
}

impl Layers {
    /// Builds the layers from a TOML file (if any), an environment and flags.
    pub fn new(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let file = match file {
            Some(path) => read_toml(path)?,
            None => HashMap::new(),
        };
        let env = env
            .into_iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("VCA_")
                    .map(|rest| (rest.to_ascii_lowercase(), v))
            })
            .collect();
        Ok(Self { file, env, flags })
    }

    /// Layers from this process: its environment (plus `RUST_LOG` as a fallback for `log`).
    pub fn from_process(
        file: Option<&Path>,
        flags: HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut env: Vec<(String, String)> = std::env::vars().collect();
        if std::env::var_os("VCA_LOG").is_none()
            && let Ok(v) = std::env::var("RUST_LOG")
        {
            env.push(("VCA_LOG".into(), v));
        }
        Self::new(file, env, flags)
    }

    /// The winning value of `key` and where it came from; empty strings count as unset.
    pub fn get(&self, key: &str) -> Option<(&str, Source)> {
        [
            (&self.flags, Source::Flag),
            (&self.env, Source::Env),
            (&self.file, Source::File),
        ]
        .into_iter()
        .find_map(|(map, src)| {
            map.get(key)
                .filter(|v| !v.trim().is_empty())
                .map(|v| (v.as_str(), src))
        })
    }
}

fn read_toml(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Invalid {
        setting: "--config".into(),
        problem: format!("cannot read {}: {e}", path.display()),
    })?;
    toml_layer(&text, path)
}

/// The settings of a TOML file's `text` (`path` names it in errors): top-level strings,
/// numbers and booleans, each as its text.
///
/// # Errors
/// [`ConfigError::Invalid`] for text that is not TOML or a value of another type.
pub fn toml_layer(text: &str, path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Invalid {
            setting: "--config".into(),
            problem: format!(
                "{} is not valid TOML: {}",
                path.display(),
                e.message().trim()
            ),
        })?;
    let mut out = HashMap::new();
    for (key, value) in table {
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(ConfigError::Invalid {
                    setting: key,
                    problem: format!(
                        "in {}: expected a string, number or boolean, found a {}",
                        path.display(),
                        other.type_str()
                    ),
                });
            }
        };
        out.insert(key, text);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_env_beat_file() {
        let dir = std::env::temp_dir().join(format!("vca-layers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            "admin_listen = \"127.0.0.1:1\"\nari_app = \"from-file\"\nmax = 3\n",
        )
        .unwrap();
        let env = vec![
            ("VCA_ADMIN_LISTEN".to_string(), "127.0.0.1:2".to_string()),
            ("HOME".to_string(), "/root".to_string()),
        ];
        let flags = HashMap::from([("admin_listen".to_string(), "127.0.0.1:3".to_string())]);
        let layers = Layers::new(Some(&path), env.clone(), flags).unwrap();
        assert_eq!(
            layers.get("admin_listen"),
            Some(("127.0.0.1:3", Source::Flag))
        );
        assert_eq!(layers.get("ari_app"), Some(("from-file", Source::File)));
        assert_eq!(layers.get("max"), Some(("3", Source::File)));
        let layers = Layers::new(Some(&path), env, HashMap::new()).unwrap();
        assert_eq!(
            layers.get("admin_listen"),
            Some(("127.0.0.1:2", Source::Env))
        );
        assert_eq!(layers.get("home"), None);
    }

    #[test]
    fn bad_toml_names_the_file() {
        let dir = std::env::temp_dir().join(format!("vca-layers-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "admin_listen = ").unwrap();
        let err = Layers::new(Some(&path), Vec::new(), HashMap::new()).unwrap_err();
        assert!(err.to_string().starts_with("--config: "), "{err}");
    }
}
