//! Colours and text styles, as data. A theme maps style names (`selected`, `state-failed`,
//! ...) to specs like `"black on cyan bold"`; it is resolved once, at start, for the terminal's
//! colour depth, so truecolor themes degrade to 256 or 16 colours and `NO_COLOR` drops colour
//! (keeping bold and reverse, so the selection stays visible).

use std::collections::BTreeMap;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::{Deserialize, Serialize};

/// How many colours the terminal shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ColorMode {
    /// Decide from `NO_COLOR`, `COLORTERM` and `TERM`.
    #[default]
    Auto,
    Truecolor,
    #[serde(rename = "256")]
    Ansi256,
    #[serde(rename = "16")]
    Ansi16,
    None,
}

impl ColorMode {
    /// Resolves `Auto` from the environment, the way most terminal programs do.
    pub fn detect(self, env: impl Fn(&str) -> Option<String>) -> Self {
        if self != Self::Auto {
            return self;
        }
        if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return Self::None;
        }
        let colorterm = env("COLORTERM").unwrap_or_default().to_ascii_lowercase();
        if colorterm == "truecolor" || colorterm == "24bit" {
            return Self::Truecolor;
        }
        let term = env("TERM").unwrap_or_default();
        if term == "dumb" {
            Self::None
        } else if term.contains("256") {
            Self::Ansi256
        } else {
            Self::Ansi16
        }
    }
}

/// The theme as written: style name -> spec.
pub type ThemeConfig = BTreeMap<String, String>;

/// The style names a theme may set.
pub const STYLE_NAMES: [&str; 23] = [
    "base",
    "header",
    "tab",
    "tab-active",
    "border",
    "title",
    "selected",
    "column-header",
    "status",
    "status-error",
    "status-warn",
    "key",
    "dim",
    "match",
    "stderr",
    "state-queued",
    "state-running",
    "state-succeeded",
    "state-failed",
    "state-cancelled",
    "chart-succeeded",
    "chart-failed",
    "code",
];

pub fn default_config() -> ThemeConfig {
    [
        ("base", "reset"),
        ("header", "#c0caf5 on #24283b bold"),
        ("tab", "#7aa2f7"),
        ("tab-active", "#1a1b26 on #7aa2f7 bold"),
        ("border", "#565f89"),
        ("title", "#7dcfff bold"),
        ("selected", "#1a1b26 on #7dcfff bold"),
        ("column-header", "#bb9af7 bold"),
        ("status", "#a9b1d6 on #24283b"),
        ("status-error", "#f7768e on #24283b bold"),
        ("status-warn", "#e0af68 on #24283b bold"),
        ("key", "#e0af68 bold"),
        ("dim", "#737aa2"),
        ("match", "#1a1b26 on #e0af68"),
        ("stderr", "#f7768e"),
        ("state-queued", "#737aa2"),
        ("state-running", "#7dcfff bold"),
        ("state-succeeded", "#9ece6a"),
        ("state-failed", "#f7768e bold"),
        ("state-cancelled", "#e0af68"),
        ("chart-succeeded", "#9ece6a"),
        ("chart-failed", "#f7768e"),
        ("code", "#e0af68"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A parsed spec: `FG [on BG] [bold] [dim] [italic] [underline] [reverse]`.
fn parse_spec(spec: &str) -> Result<Style, String> {
    let mut style = Style::default();
    let mut words = spec.split_whitespace().peekable();
    let mut first = true;
    while let Some(word) = words.next() {
        let modifier = match word {
            "bold" => Some(Modifier::BOLD),
            "dim" => Some(Modifier::DIM),
            "italic" => Some(Modifier::ITALIC),
            "underline" | "underlined" => Some(Modifier::UNDERLINED),
            "reverse" | "reversed" => Some(Modifier::REVERSED),
            _ => None,
        };
        if let Some(m) = modifier {
            style = style.add_modifier(m);
        } else if word == "on" {
            let bg = words
                .next()
                .ok_or_else(|| format!("'{spec}': a colour must follow 'on'"))?;
            style = style.bg(parse_color(bg)?);
        } else if first {
            style = style.fg(parse_color(word)?);
        } else {
            return Err(format!("'{spec}': '{word}' is not a colour or text style"));
        }
        first = false;
    }
    Ok(style)
}

fn parse_color(s: &str) -> Result<Color, String> {
    if s == "reset" || s == "default" {
        return Ok(Color::Reset);
    }
    Color::from_str(s).map_err(|_| {
        format!("'{s}' is not a colour; use a name (red, lightblue), #rrggbb or 0-255")
    })
}

/// Nearest colour of the xterm 256 palette.
fn to_256(r: u8, g: u8, b: u8) -> u8 {
    let level = |v: u8| -> u8 {
        if v < 48 {
            0
        } else if v < 115 {
            1
        } else {
            (v - 35) / 40
        }
    };
    let (ri, gi, bi) = (level(r), level(g), level(b));
    let cube = 16 + 36 * ri + 6 * gi + bi;
    let steps = [0u8, 95, 135, 175, 215, 255];
    let cube_rgb = (steps[ri as usize], steps[gi as usize], steps[bi as usize]);
    let avg = (u16::from(r) + u16::from(g) + u16::from(b)) / 3;
    let gray_idx = if avg > 238 {
        23
    } else {
        avg.saturating_sub(3) / 10
    } as u8;
    let gray = 8 + 10 * gray_idx;
    let dist = |(a, b2, c): (u8, u8, u8)| {
        let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).pow(2);
        d(a, r) + d(b2, g) + d(c, b)
    };
    if dist((gray, gray, gray)) < dist(cube_rgb) {
        232 + gray_idx
    } else {
        cube
    }
}

fn rgb_of_256(i: u8) -> (u8, u8, u8) {
    match i {
        0..=15 => BASIC16[i as usize].1,
        16..=231 => {
            let i = i - 16;
            let steps = [0u8, 95, 135, 175, 215, 255];
            (
                steps[(i / 36) as usize],
                steps[((i / 6) % 6) as usize],
                steps[(i % 6) as usize],
            )
        }
        _ => {
            let v = 8 + 10 * (i - 232);
            (v, v, v)
        }
    }
}

const BASIC16: [(Color, (u8, u8, u8)); 16] = [
    (Color::Black, (0, 0, 0)),
    (Color::Red, (205, 0, 0)),
    (Color::Green, (0, 205, 0)),
    (Color::Yellow, (205, 205, 0)),
    (Color::Blue, (0, 0, 238)),
    (Color::Magenta, (205, 0, 205)),
    (Color::Cyan, (0, 205, 205)),
    (Color::Gray, (229, 229, 229)),
    (Color::DarkGray, (127, 127, 127)),
    (Color::LightRed, (255, 0, 0)),
    (Color::LightGreen, (0, 255, 0)),
    (Color::LightYellow, (255, 255, 0)),
    (Color::LightBlue, (92, 92, 255)),
    (Color::LightMagenta, (255, 0, 255)),
    (Color::LightCyan, (0, 255, 255)),
    (Color::White, (255, 255, 255)),
];

fn to_16(r: u8, g: u8, b: u8) -> Color {
    let d = |(x, y, z): (u8, u8, u8)| {
        let sq = |p: u8, q: u8| (i32::from(p) - i32::from(q)).pow(2);
        sq(x, r) + sq(y, g) + sq(z, b)
    };
    BASIC16
        .iter()
        .min_by_key(|(_, rgb)| d(*rgb))
        .map_or(Color::Reset, |(c, _)| *c)
}

fn degrade(color: Option<Color>, mode: ColorMode) -> Option<Color> {
    let c = color?;
    match (mode, c) {
        (ColorMode::None, _) => None,
        (ColorMode::Ansi256, Color::Rgb(r, g, b)) => Some(Color::Indexed(to_256(r, g, b))),
        (ColorMode::Ansi16, Color::Rgb(r, g, b)) => Some(to_16(r, g, b)),
        (ColorMode::Ansi16, Color::Indexed(i)) => {
            let (r, g, b) = rgb_of_256(i);
            Some(to_16(r, g, b))
        }
        _ => Some(c),
    }
}

/// Resolved styles, looked up by name when drawing.
#[derive(Debug, Clone, Default)]
pub struct Theme {
    styles: BTreeMap<String, Style>,
    pub mode: ColorMode,
}

impl Theme {
    /// Resolves `config` (over the defaults) for `mode`, naming any unknown style or bad spec.
    pub fn new(config: &ThemeConfig, mode: ColorMode) -> Result<Self, String> {
        let mut styles = BTreeMap::new();
        let mut merged = default_config();
        for (k, v) in config {
            if !STYLE_NAMES.contains(&k.as_str()) {
                return Err(format!(
                    "unknown theme style '{k}'; styles are {}",
                    STYLE_NAMES.join(", ")
                ));
            }
            merged.insert(k.clone(), v.clone());
        }
        for (name, spec) in &merged {
            let mut s = parse_spec(spec).map_err(|e| format!("[theme] {name}: {e}"))?;
            s.fg = degrade(s.fg, mode);
            s.bg = degrade(s.bg, mode);
            if mode == ColorMode::None
                && (name == "selected" || name == "match" || name == "tab-active")
            {
                s = s.add_modifier(Modifier::REVERSED);
            }
            styles.insert(name.clone(), s);
        }
        Ok(Self { styles, mode })
    }

    pub fn get(&self, name: &str) -> Style {
        self.styles.get(name).copied().unwrap_or_default()
    }

    /// A colour from elsewhere (a syntax theme, say) as this terminal can show it: degraded
    /// to 256 or 16 colours, or none under `NO_COLOR`.
    pub fn color(&self, color: Color) -> Option<Color> {
        degrade(Some(color), self.mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let s = parse_spec("#ff0000 on blue bold").unwrap();
        assert_eq!(s.fg, Some(Color::Rgb(255, 0, 0)));
        assert_eq!(s.bg, Some(Color::Blue));
        assert!(s.add_modifier.contains(Modifier::BOLD));
        assert!(parse_spec("nocolour").is_err());
    }

    #[test]
    fn colours_degrade() {
        let cfg = ThemeConfig::new();
        let t256 = Theme::new(&cfg, ColorMode::Ansi256).unwrap();
        assert!(matches!(
            t256.get("state-failed").fg,
            Some(Color::Indexed(_))
        ));
        let t16 = Theme::new(&cfg, ColorMode::Ansi16).unwrap();
        assert!(!matches!(
            t16.get("state-failed").fg,
            Some(Color::Rgb(..) | Color::Indexed(_))
        ));
        let none = Theme::new(&cfg, ColorMode::None).unwrap();
        assert_eq!(none.get("state-failed").fg, None);
        assert!(
            none.get("selected")
                .add_modifier
                .contains(Modifier::REVERSED)
        );
        assert_eq!(to_256(255, 0, 0), 196);
        assert_eq!(to_16(250, 10, 10), Color::LightRed);
    }

    #[test]
    fn detection_follows_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(
            ColorMode::Auto.detect(env(&[("NO_COLOR", "1"), ("COLORTERM", "truecolor")])),
            ColorMode::None
        );
        assert_eq!(
            ColorMode::Auto.detect(env(&[("COLORTERM", "truecolor")])),
            ColorMode::Truecolor
        );
        assert_eq!(
            ColorMode::Auto.detect(env(&[("TERM", "xterm-256color")])),
            ColorMode::Ansi256
        );
        assert_eq!(
            ColorMode::Auto.detect(env(&[("TERM", "xterm")])),
            ColorMode::Ansi16
        );
        assert_eq!(
            ColorMode::Ansi16.detect(env(&[("NO_COLOR", "1")])),
            ColorMode::Ansi16
        );
    }
}
