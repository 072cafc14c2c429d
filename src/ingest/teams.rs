//! The team names each district has, bounded: every name reaches every
//! screen each tick, so a partner's typos (or a flood of made-up names)
//! cannot grow the state without end. A district keeps every name it has;
//! once it has [`Bounds::teams_per_district`](super::bounds::Bounds), a
//! record naming a new team there is rejected, saying so. With
//! `--refuse-unregistered-teams`, a district the region's team registry
//! lists teams for takes only those (without it, another name is stored and
//! the monthly review shows it as unregistered, for staff to review).

use std::collections::HashSet;
use std::sync::RwLock;

use crate::region::{Region, RegisteredTeam};

#[derive(Debug)]
pub struct Teams {
    max: usize,
    /// Per district (by position in the region), the names seen.
    known: RwLock<Vec<HashSet<String>>>,
    /// Per district, the registry's team ids, when only those are taken.
    registered: Option<RwLock<Vec<HashSet<String>>>>,
}

impl Teams {
    /// `known`: (district position, team) of the events stored already.
    pub fn new(
        max: usize,
        districts: usize,
        known: impl IntoIterator<Item = (u8, String)>,
    ) -> Teams {
        let mut sets = vec![HashSet::new(); districts];
        for (district, team) in known {
            if let Some(set) = sets.get_mut(district as usize) {
                set.insert(team);
            }
        }
        Teams {
            max,
            known: RwLock::new(sets),
            registered: None,
        }
    }

    /// Takes only the registry's teams (`registry`) in a district the
    /// registry lists teams for.
    pub fn refusing_unregistered(mut self, region: &Region, registry: &[RegisteredTeam]) -> Teams {
        let mut registered = vec![HashSet::new(); region.districts.len()];
        for t in registry {
            registered[t.district as usize].insert(t.id.clone());
        }
        self.registered = Some(RwLock::new(registered));
        self
    }

    /// A team staff added to the registry: taken from now on.
    pub fn register(&self, district: u8, id: &str) {
        if let Some(registered) = &self.registered
            && let Some(set) = registered
                .write()
                .expect("the registered teams' lock")
                .get_mut(district as usize)
        {
            set.insert(id.to_string());
        }
    }

    /// Whether `team` may be named in `district`: a name it has, or a new
    /// one while it has fewer than the bound (the name is then its own).
    /// Refused: why, naming the field.
    pub fn admit(&self, region: &Region, district: u8, team: &str) -> Result<(), String> {
        let d = district as usize;
        let refused = self.registered.as_ref().and_then(|r| {
            let sets = r.read().expect("the registered teams' lock");
            let ids = sets.get(d)?;
            let mut known: Vec<&String> = ids.iter().collect();
            known.sort_unstable();
            (!ids.is_empty() && !ids.contains(team)).then(|| known[0].clone())
        });
        if let Some(example) = refused {
            let place = &region.districts[d];
            return Err(format!(
                "team: {team:?} is not a registered team of {} ({}); send a registered team's id (e.g. {example})",
                place.name, place.code
            ));
        }
        {
            let known = self.known.read().expect("the teams' lock");
            match known.get(d) {
                Some(set) if set.contains(team) => return Ok(()),
                Some(_) => {}
                None => return Ok(()),
            }
        }
        let mut known = self.known.write().expect("the teams' lock");
        let set = &mut known[d];
        if set.len() >= self.max && !set.contains(team) {
            let place = &region.districts[d];
            return Err(format!(
                "team: {team:?} would be a new team in {} ({}), which has {} team names already, the most a district may have; check the name, or ask staff to raise --max-teams-per-district",
                place.name,
                place.code,
                set.len()
            ));
        }
        set.insert(team.to_string());
        Ok(())
    }

    /// How many team names `district` has.
    #[cfg(test)]
    pub fn count(&self, district: u8) -> usize {
        self.known
            .read()
            .expect("the teams' lock")
            .get(district as usize)
            .map_or(0, HashSet::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_district_takes_new_names_up_to_its_bound_and_keeps_the_ones_it_has() {
        let region = Region::load("beijing").unwrap();
        let fengtai = region.district_index("110106").unwrap();
        let dongcheng = region.district_index("110101").unwrap();
        let teams = Teams::new(2, region.districts.len(), [(fengtai, "a".to_string())]);
        assert_eq!(teams.admit(&region, fengtai, "a"), Ok(()));
        assert_eq!(teams.admit(&region, fengtai, "b"), Ok(()));
        assert_eq!(
            teams.admit(&region, fengtai, "c"),
            Err("team: \"c\" would be a new team in 丰台区 (110106), which has 2 team names already, the most a district may have; check the name, or ask staff to raise --max-teams-per-district".into())
        );
        assert_eq!(teams.admit(&region, fengtai, "b"), Ok(()));
        assert_eq!(teams.count(fengtai), 2);
        // Another district has its own.
        assert_eq!(teams.admit(&region, dongcheng, "c"), Ok(()));
        assert_eq!(teams.count(dongcheng), 1);
    }

    #[test]
    fn refusing_unregistered_teams_takes_only_the_registrys_in_its_districts() {
        let region = Region::load("beijing").unwrap();
        let fengtai = region.district_index("110106").unwrap();
        let dongcheng = region.district_index("110101").unwrap();
        let teams = Teams::new(200, region.districts.len(), [])
            .refusing_unregistered(&region, &region.teams);
        assert_eq!(teams.admit(&region, fengtai, "ft-zxy-diabetes"), Ok(()));
        assert_eq!(
            teams.admit(&region, fengtai, "ft-zxy-diabtes"),
            Err("team: \"ft-zxy-diabtes\" is not a registered team of 丰台区 (110106); send a registered team's id (e.g. ft-boaitang-diabetes)".to_string())
        );
        // A district the registry lists no team for takes any name.
        assert_eq!(teams.admit(&region, dongcheng, "dc-team-1"), Ok(()));
        // A team staff register is taken from then on.
        teams.register(fengtai, "ft-zxy-diabtes");
        assert_eq!(teams.admit(&region, fengtai, "ft-zxy-diabtes"), Ok(()));
        // Without the option, an unregistered name is taken (and reviewed).
        let open = Teams::new(200, region.districts.len(), []);
        assert_eq!(open.admit(&region, fengtai, "ft-zxy-diabtes"), Ok(()));
    }
}
