//! Random identifiers in the shapes Neon uses (`br-adjective-noun-xxxxxxxx`, v4 UUIDs,
//! `npg_…` passwords), all drawn from `fastrand`'s thread-local generator so a seeded run is
//! reproducible.

const ADJECTIVES: &[&str] = &[
    "aged",
    "bitter",
    "billowing",
    "calm",
    "cool",
    "damp",
    "dark",
    "empty",
    "floral",
    "fragrant",
    "frosty",
    "gentle",
    "icy",
    "late",
    "lingering",
    "little",
    "lucky",
    "misty",
    "morning",
    "muddy",
    "nameless",
    "odd",
    "patient",
    "polished",
    "quiet",
    "raspy",
    "red",
    "rough",
    "royal",
    "shiny",
    "silent",
    "small",
    "snowy",
    "soft",
    "solitary",
    "spring",
    "still",
    "summer",
    "sweet",
    "twilight",
    "wandering",
    "weathered",
    "wild",
    "winter",
    "wispy",
    "withered",
];
const NOUNS: &[&str] = &[
    "base",
    "bird",
    "block",
    "breeze",
    "brook",
    "bush",
    "butterfly",
    "cake",
    "cell",
    "cherry",
    "cloud",
    "credit",
    "darkness",
    "dawn",
    "dew",
    "disk",
    "dream",
    "dust",
    "feather",
    "field",
    "fire",
    "firefly",
    "flower",
    "fog",
    "forest",
    "frog",
    "frost",
    "glade",
    "glitter",
    "grass",
    "hall",
    "hat",
    "haze",
    "heart",
    "hill",
    "king",
    "lab",
    "lake",
    "leaf",
    "limit",
    "math",
    "meadow",
    "mode",
    "moon",
    "morning",
    "mountain",
    "mouse",
    "mud",
    "night",
    "paper",
    "pine",
    "poetry",
    "pond",
    "queen",
    "rain",
    "recipe",
    "resonance",
    "rice",
    "river",
    "salad",
    "scene",
    "sea",
    "shadow",
    "shape",
    "silence",
    "sky",
    "smoke",
    "snow",
    "snowflake",
    "sound",
    "star",
    "sun",
    "sunset",
    "surf",
    "term",
    "thunder",
    "tooth",
    "tree",
    "truth",
    "union",
    "unit",
    "violet",
    "voice",
    "water",
    "waterfall",
    "wave",
    "wildflower",
    "wind",
    "wood",
];

/// `prefix-adjective-noun-xxxxxxxx`, the shape of real Neon ids.
pub fn random_id(prefix: &str) -> String {
    let adj = ADJECTIVES[fastrand::usize(..ADJECTIVES.len())];
    let noun = NOUNS[fastrand::usize(..NOUNS.len())];
    let tail: String = (0..8)
        .map(|_| {
            let c = fastrand::usize(..36);
            if c < 10 {
                (b'0' + c as u8) as char
            } else {
                (b'a' + (c - 10) as u8) as char
            }
        })
        .collect();
    format!("{prefix}-{adj}-{noun}-{tail}")
}

/// A random v4 UUID (operation ids).
pub fn uuid() -> String {
    let hex = |n: usize| -> String {
        (0..n)
            .map(|_| format!("{:x}", fastrand::u8(..16)))
            .collect()
    };
    let variant = ["8", "9", "a", "b"][fastrand::usize(..4)];
    format!(
        "{}-{}-4{}-{}{}-{}",
        hex(8),
        hex(4),
        hex(3),
        variant,
        hex(3),
        hex(12)
    )
}

pub(crate) fn random_password() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let body: String = (0..12)
        .map(|_| CHARS[fastrand::usize(..CHARS.len())] as char)
        .collect();
    format!("npg_{body}")
}
