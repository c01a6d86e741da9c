use std::path::Path;

use super::with_pin_dir;

fn pin_dir_of(config: &str) -> Option<String> {
    let table: toml::Table = config.parse().expect("valid TOML");
    Some(table.get("load")?.get("pin_dir")?.as_str()?.to_owned())
}

#[test]
fn a_node_without_a_load_table_gets_one_with_the_pin_dir() {
    let config = with_pin_dir("[node]\nworkers = 1\n".into(), Path::new("/tmp/b/n0"));
    assert_eq!(
        pin_dir_of(&config).as_deref(),
        Some("/tmp/b/n0"),
        "{config}"
    );
}

#[test]
fn the_pin_dir_joins_the_specs_own_load_table() {
    let spec = "[node]\nworkers = 1\n  [load] # from the spec\nsource = \"ebpf\"\n[functions.work]\nbackend = \"builtin\"";
    let config = with_pin_dir(spec.into(), Path::new("/tmp/b/n1"));
    assert_eq!(
        pin_dir_of(&config).as_deref(),
        Some("/tmp/b/n1"),
        "{config}"
    );
    let table: toml::Table = config.parse().expect("valid TOML");
    assert_eq!(table["load"]["source"].as_str(), Some("ebpf"));
    assert_eq!(
        table["functions"]["work"]["backend"].as_str(),
        Some("builtin")
    );
}

#[test]
fn a_pin_dir_the_spec_sets_is_kept() {
    let spec = "[load]\npin_dir = \"/mine\"\n";
    assert_eq!(with_pin_dir(spec.into(), Path::new("/tmp/b/n0")), spec);
}

#[test]
fn a_config_that_is_not_toml_is_left_for_the_node_to_refuse() {
    let spec = "[load\npin_dir = ";
    assert_eq!(with_pin_dir(spec.into(), Path::new("/tmp/b/n0")), spec);
}
