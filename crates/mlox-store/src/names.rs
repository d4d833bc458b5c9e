//! Generated run names: `adjective-noun-NNN`, as MLflow names runs that have none.

use rand::seq::SliceRandom;
use rand::Rng;

const ADJECTIVES: &[&str] = &[
    "agile", "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "dapper", "eager",
    "fancy", "gentle", "glossy", "honest", "humble", "jolly", "keen", "lively", "lucky", "merry",
    "mellow", "nimble", "polite", "proud", "quiet", "rare", "rustic", "serene", "sharp", "shy",
    "smooth", "snappy", "sturdy", "sunny", "swift", "tidy", "upbeat", "vivid", "warm", "witty",
    "zesty",
];

const NOUNS: &[&str] = &[
    "ant", "badger", "bat", "bear", "bee", "bison", "boar", "carp", "cat", "colt", "crane", "crow",
    "deer", "dove", "eagle", "eel", "elk", "finch", "fox", "frog", "gnu", "goat", "hare", "hawk",
    "heron", "ibis", "jay", "koala", "lark", "lynx", "mole", "moth", "newt", "owl", "panda",
    "quail", "ram", "robin", "seal", "shrew", "stork", "swan", "toad", "trout", "vole", "wasp",
    "whale", "wren", "yak", "zebra",
];

pub fn generate() -> String {
    let mut rng = rand::thread_rng();
    let adjective = ADJECTIVES.choose(&mut rng).copied().unwrap_or("quiet");
    let noun = NOUNS.choose(&mut rng).copied().unwrap_or("owl");
    format!("{adjective}-{noun}-{}", rng.gen_range(0..1000))
}
