#![allow(clippy::unwrap_used)]

use super::*;

fn get<'a>(env: &'a [(OsString, OsString)], key: &str) -> Option<&'a OsString> {
    env.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

#[test]
fn default_environment_is_clean() {
    let env = container_env("box", Some("xterm".into()), &[]).unwrap();
    let keys: Vec<_> = env.iter().map(|(k, _)| k.to_str().unwrap()).collect();
    assert_eq!(keys, ["PATH", "HOSTNAME", "HOME", "TERM"]);
    assert_eq!(get(&env, "HOSTNAME").unwrap(), "box");
    assert_eq!(get(&env, "HOME").unwrap(), "/root");
    assert_eq!(get(&env, "PATH").unwrap(), DEFAULT_PATH);
    assert_eq!(get(&env, "TERM").unwrap(), "xterm");
    let env = container_env("box", None, &[]).unwrap();
    assert!(get(&env, "TERM").is_none());
}

#[test]
fn overrides_add_replace_copy_and_remove() {
    let overrides = [
        "GREETING=hello=world".to_string(), // '=' in the value is kept
        "HOME=/home/me".to_string(),
        "EMPTY=".to_string(),
        "PATH".to_string(), // the caller's own PATH, which cargo test always has
        "CFS_SURELY_NOT_SET_42".to_string(),
        "HOSTNAME".to_string(), // not in the test's environment: removed
    ];
    let env = container_env("box", None, &overrides).unwrap();
    assert_eq!(get(&env, "GREETING").unwrap(), "hello=world");
    assert_eq!(get(&env, "HOME").unwrap(), "/home/me");
    assert_eq!(get(&env, "EMPTY").unwrap(), "");
    assert_eq!(get(&env, "PATH"), std::env::var_os("PATH").as_ref());
    assert!(get(&env, "CFS_SURELY_NOT_SET_42").is_none());
    if std::env::var_os("HOSTNAME").is_none() {
        assert!(get(&env, "HOSTNAME").is_none());
    }
}

#[test]
fn parse_env_refuses_bad_names() {
    assert_eq!(parse_env("A=b").unwrap(), "A=b");
    assert_eq!(parse_env("A").unwrap(), "A");
    assert_eq!(parse_env("A=").unwrap(), "A=");
    assert_eq!(parse_env("A=b=c").unwrap(), "A=b=c");
    assert_eq!(parse_env("A=has space").unwrap(), "A=has space");
    assert!(parse_env("").is_err());
    assert!(parse_env("=value").is_err());
    assert!(parse_env("MY VAR=1").is_err());
    assert!(parse_env("A=b\0c").is_err());
    assert!(container_env("box", None, &["=x".to_string()]).is_err());
}
