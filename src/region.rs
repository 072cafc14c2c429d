//! The region the program runs in: its districts, their targets, the index
//! weights and the city targets, read from the staff-editable CSV files under
//! `fixtures/regions/<name>/`.
//!
//! The Beijing files are compiled in, so `--region beijing` works from any
//! directory; `--region DIR` reads a folder holding the same three files.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

/// Everything the server needs to know about the region.
#[derive(Debug, Clone)]
pub struct Region {
    pub name: String,
    pub districts: Vec<District>,
    pub weights: Vec<(String, f64)>,
    pub targets: CityTargets,
    /// Each district's code and name to its position (no two are alike:
    /// `load` refuses the file otherwise). Ingest and the replay at start
    /// look a district up for every event.
    positions: HashMap<String, u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct District {
    pub code: String,
    pub name: String,
    pub population_10k: f64,
    pub target_people: u64,
    pub target_managed: u64,
    pub target_guardians: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CityTargets {
    pub people: u64,
    pub interactive: u64,
    pub managed: u64,
    pub guardians: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RegionError {
    #[error("region file {file}: {message}")]
    File { file: String, message: String },
    #[error("region {0:?} is neither a built-in region (beijing) nor a folder")]
    Unknown(String),
}

const BEIJING_DISTRICTS: &str = include_str!("../fixtures/regions/beijing/districts.csv");
const BEIJING_WEIGHTS: &str = include_str!("../fixtures/regions/beijing/weights.csv");
const BEIJING_TARGETS: &str = include_str!("../fixtures/regions/beijing/targets.csv");

#[derive(Deserialize)]
struct DistrictRow {
    code: String,
    name: String,
    population_10k: f64,
    target_people: u64,
    target_managed: u64,
    target_guardians: u64,
}

#[derive(Deserialize)]
struct WeightRow {
    component: String,
    weight: f64,
}

#[derive(Deserialize)]
struct TargetRow {
    metric: String,
    target: u64,
}

impl Region {
    /// `beijing` (built in) or a folder with districts.csv, weights.csv and targets.csv.
    pub fn load(name_or_dir: &str) -> Result<Region, RegionError> {
        if name_or_dir == "beijing" {
            return Region::parse(
                "beijing",
                BEIJING_DISTRICTS,
                BEIJING_WEIGHTS,
                BEIJING_TARGETS,
            );
        }
        let dir = Path::new(name_or_dir);
        if !dir.is_dir() {
            return Err(RegionError::Unknown(name_or_dir.to_string()));
        }
        let read = |file: &str| {
            std::fs::read_to_string(dir.join(file)).map_err(|e| RegionError::File {
                file: dir.join(file).display().to_string(),
                message: e.to_string(),
            })
        };
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| name_or_dir.to_string());
        Region::parse(
            &name,
            &read("districts.csv")?,
            &read("weights.csv")?,
            &read("targets.csv")?,
        )
    }

    pub fn parse(
        name: &str,
        districts: &str,
        weights: &str,
        targets: &str,
    ) -> Result<Region, RegionError> {
        let districts: Vec<DistrictRow> = read_csv("districts.csv", districts)?;
        let weights: Vec<WeightRow> = read_csv("weights.csv", weights)?;
        let targets: Vec<TargetRow> = read_csv("targets.csv", targets)?;
        if districts.is_empty() || districts.len() > 255 {
            return Err(file_error("districts.csv", "needs 1 to 255 districts"));
        }
        let mut seen = std::collections::HashSet::new();
        for d in &districts {
            if !seen.insert(d.code.clone()) || !seen.insert(d.name.clone()) {
                return Err(file_error(
                    "districts.csv",
                    &format!("district {} {} appears twice", d.code, d.name),
                ));
            }
        }
        for w in &weights {
            if !(w.weight.is_finite() && w.weight >= 0.0) {
                return Err(file_error(
                    "weights.csv",
                    &format!("weight of {} must be a number ≥ 0", w.component),
                ));
            }
        }
        let target = |metric: &str| {
            targets
                .iter()
                .find(|t| t.metric == metric)
                .map(|t| t.target)
                .ok_or_else(|| file_error("targets.csv", &format!("no row for {metric}")))
        };
        let positions = districts
            .iter()
            .enumerate()
            .flat_map(|(i, d)| [(d.code.clone(), i as u8), (d.name.clone(), i as u8)])
            .collect();
        Ok(Region {
            name: name.to_string(),
            positions,
            targets: CityTargets {
                people: target("people")?,
                interactive: target("interactive")?,
                managed: target("managed")?,
                guardians: target("guardians")?,
            },
            districts: districts
                .into_iter()
                .map(|d| District {
                    code: d.code,
                    name: d.name,
                    population_10k: d.population_10k,
                    target_people: d.target_people,
                    target_managed: d.target_managed,
                    target_guardians: d.target_guardians,
                })
                .collect(),
            weights: weights
                .into_iter()
                .map(|w| (w.component, w.weight))
                .collect(),
        })
    }

    /// The district's position, from its code or its exact name.
    pub fn district_index(&self, code_or_name: &str) -> Option<u8> {
        self.positions.get(code_or_name).copied()
    }
}

fn file_error(file: &str, message: &str) -> RegionError {
    RegionError::File {
        file: file.to_string(),
        message: message.to_string(),
    }
}

fn read_csv<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<Vec<T>, RegionError> {
    let mut reader = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    reader
        .deserialize()
        .collect::<Result<Vec<T>, _>>()
        .map_err(|e| file_error(file, &e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_has_sixteen_districts_with_current_names() {
        let region = Region::load("beijing").unwrap();
        assert_eq!(region.districts.len(), 16);
        assert_eq!(region.district_index("110106"), Some(3));
        assert_eq!(region.district_index("丰台区"), Some(3));
        assert_eq!(region.district_index("密云区"), Some(14));
        assert_eq!(region.district_index("密云县"), None);
        let fengtai = &region.districts[3];
        assert_eq!(fengtai.target_managed, 15_000);
        assert_eq!(
            region.targets,
            CityTargets {
                people: 1_000_000,
                interactive: 500_000,
                managed: 100_000,
                guardians: 100_000
            }
        );
        assert_eq!(region.weights.len(), 13);
    }
}
