//! The program's event model: the six kinds of activity, the fixed lists
//! (colours, service categories, training stages, rates, the nine rates and
//! their three plans) with their codes and Chinese names, and a validated
//! [`Event`]. Every stage uses it; it uses nothing of theirs (ingest turns
//! records into events, the store keeps them, the aggregator counts them).

/// A named choice with its code (on the wire) and its Chinese name.
macro_rules! choice {
    ($(#[$meta:meta])* $name:ident, $field:literal, [$(($variant:ident, $code:literal, $zh:literal)),+ $(,)?]) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// How many values the list has (the length of arrays indexed by it).
            pub const COUNT: usize = $name::ALL.len();
            /// The list's name in rejections (`kind: must be one of …`).
            pub const FIELD: &'static str = $field;

            /// The codes, in the list's order.
            #[allow(dead_code)]
            pub fn codes() -> Vec<&'static str> {
                $name::ALL.iter().map(|c| c.code()).collect()
            }

            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn chinese(self) -> &'static str {
                match self { $($name::$variant => $zh),+ }
            }

            pub fn index(self) -> usize {
                self as usize
            }

            /// From its code, or its Chinese name.
            pub fn parse(text: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|c| c.code() == text || c.chinese() == text)
            }

            /// What a field of this list must be, for a rejection.
            #[allow(dead_code)]
            pub fn expected() -> String {
                format!(concat!($field, ": must be one of {}"), $name::codes().join(", "))
            }
        }
    };
}

choice!(
    /// The six kinds of activity.
    Kind, "kind", [
    (Scan, "scan", "扫码"),
    (Assess, "assess", "评估"),
    (Enroll, "enroll", "入组"),
    (Service, "service", "服务"),
    (Train, "train", "培训"),
    (Outcome, "outcome", "效果"),
]);

choice!(
    /// The five colours (五色) a person is sorted into by the self-assessment.
    Colour, "colour", [
    (Green, "green", "绿色"),
    (Orange, "orange", "橙色"),
    (Pink, "pink", "粉色"),
    (Yellow, "yellow", "黄色"),
    (Blue, "blue", "蓝色"),
]);

choice!(
    /// The ten service categories (十类).
    Category, "category", [
    (IdeaPromotion, "idea_promotion", "传播理念"),
    (SciencePush, "science_push", "科普推送"),
    (Activity, "activity", "参与活动"),
    (Learning, "learning", "学习知识"),
    (SkillsTraining, "skills_training", "技能培训"),
    (BehaviourContest, "behaviour_contest", "行为评比"),
    (HealthManagement, "health_management", "健康管理"),
    (PatientFollowup, "patient_followup", "患教回访"),
    (Treatment, "treatment", "已病治疗"),
    (KeyIntervention, "key_intervention", "重点干预"),
]);

choice!(
    /// Health-guardian training stages.
    Stage, "stage", [
    (Enrolled, "enrolled", "参训"),
    (Certified, "certified", "结业"),
]);

choice!(
    /// The rate an outcome event observes, as sent and stored. The city's
    /// texts name participation (参与率) where Fengtai's name compliance
    /// (依从率): both are taken and stored as sent, and counted in one slot
    /// ([`Rate::nine`]). `management` stays in the list for events stored
    /// before it was refused: 管理率 is managed ÷ target population, counted
    /// from enrolments, never observed on a person.
    Rate, "rate", [
    (Awareness, "awareness", "知晓率"),
    (Compliance, "compliance", "依从率"),
    (Participation, "participation", "参与率"),
    (Satisfaction, "satisfaction", "满意率"),
    (Attainment, "attainment", "达标率"),
    (Improvement, "improvement", "改善率"),
    (Effectiveness, "effectiveness", "有效率"),
    (Management, "management", "管理率"),
    (Control, "control", "控制率"),
    (Prevention, "prevention", "防变率"),
]);

choice!(
    /// The nine rates (三案九率), three to each plan, in the program's order.
    NineRate, "rate", [
    (Awareness, "awareness", "知晓率"),
    (Participation, "participation", "参与率"),
    (Satisfaction, "satisfaction", "满意率"),
    (Attainment, "attainment", "达标率"),
    (Improvement, "improvement", "改善率"),
    (Effectiveness, "effectiveness", "有效率"),
    (Management, "management", "管理率"),
    (Control, "control", "控制率"),
    (Prevention, "prevention", "防变率"),
]);

choice!(
    /// The three plans (三案), each with three of the nine rates.
    Plan, "plan", [
    (Training, "training", "培训方案"),
    (Technical, "technical", "技术方案"),
    (Implementation, "implementation", "实施方案"),
]);

choice!(
    /// The level a service team answers to (seed 000: city teams and the
    /// districts' own).
    TeamLevel, "level", [
    (City, "city", "市级"),
    (District, "district", "区级"),
]);

choice!(
    /// A team's discipline: the two diseases and four methods (两病四法).
    Discipline, "discipline", [
    (Hypertension, "hypertension", "高血压"),
    (Diabetes, "diabetes", "糖尿病"),
    (Diet, "diet", "饮食调节"),
    (Psychology, "psychology", "心理干预"),
    (Exercise, "exercise", "医体结合"),
    (NonDrug, "non_drug", "非药物疗法"),
]);

choice!(
    /// The three lists of 一帐三单 beside the work ledger (seed 001): tasks,
    /// supervision items and feedback with a deadline for the correction.
    LedgerList, "list", [
    (Task, "task", "任务单"),
    (Supervision, "supervision", "督办单"),
    (Feedback, "feedback", "反馈单"),
]);

impl NineRate {
    pub fn plan(self) -> Plan {
        Plan::ALL[self.index() / 3]
    }

    /// Whether the rate is a share of the persons observed (all but
    /// management, which is managed ÷ target population).
    pub fn observed(self) -> bool {
        self != NineRate::Management
    }
}

impl Rate {
    /// The codes ingest takes (management is refused).
    pub fn accepted() -> String {
        let codes: Vec<&str> = Rate::ALL
            .iter()
            .filter(|r| **r != Rate::Management)
            .map(|r| r.code())
            .collect();
        format!("rate: must be one of {}", codes.join(", "))
    }

    /// The slot of the nine the rate is counted in.
    pub fn nine(self) -> NineRate {
        match self {
            Rate::Awareness => NineRate::Awareness,
            Rate::Compliance | Rate::Participation => NineRate::Participation,
            Rate::Satisfaction => NineRate::Satisfaction,
            Rate::Attainment => NineRate::Attainment,
            Rate::Improvement => NineRate::Improvement,
            Rate::Effectiveness => NineRate::Effectiveness,
            Rate::Management => NineRate::Management,
            Rate::Control => NineRate::Control,
            Rate::Prevention => NineRate::Prevention,
        }
    }
}

/// A validated event, ready to store and count.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: String,
    /// Beijing wall-clock microseconds (see [`crate::time`]).
    pub ts: i64,
    /// Position of the district in the region.
    pub district: u8,
    pub person: String,
    pub detail: Detail,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    Scan { channel: Option<String> },
    Assess { colour: Colour },
    Enroll { team: String },
    Service { team: String, category: Category },
    Train { stage: Stage },
    Outcome { rate: Rate, value: bool },
}

impl Event {
    /// The service team an enrolment or a service names.
    pub fn team(&self) -> Option<&str> {
        match &self.detail {
            Detail::Enroll { team } | Detail::Service { team, .. } => Some(team),
            _ => None,
        }
    }

    pub fn kind(&self) -> Kind {
        match self.detail {
            Detail::Scan { .. } => Kind::Scan,
            Detail::Assess { .. } => Kind::Assess,
            Detail::Enroll { .. } => Kind::Enroll,
            Detail::Service { .. } => Kind::Service,
            Detail::Train { .. } => Kind::Train,
            Detail::Outcome { .. } => Kind::Outcome,
        }
    }
}

/// An event's kind-specific fields as the store keeps them, one column each
/// (the lists by code): the one mapping between a [`Detail`] and a row.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Fields<'a> {
    pub channel: Option<&'a str>,
    pub colour: Option<&'a str>,
    pub team: Option<&'a str>,
    pub category: Option<&'a str>,
    pub stage: Option<&'a str>,
    pub rate: Option<&'a str>,
    pub value: Option<bool>,
}

impl Detail {
    /// The fields this detail fills.
    pub fn fields(&self) -> Fields<'_> {
        let none = Fields::default();
        match self {
            Detail::Scan { channel } => Fields {
                channel: channel.as_deref(),
                ..none
            },
            Detail::Assess { colour } => Fields {
                colour: Some(colour.code()),
                ..none
            },
            Detail::Enroll { team } => Fields {
                team: Some(team),
                ..none
            },
            Detail::Service { team, category } => Fields {
                team: Some(team),
                category: Some(category.code()),
                ..none
            },
            Detail::Train { stage } => Fields {
                stage: Some(stage.code()),
                ..none
            },
            Detail::Outcome { rate, value } => Fields {
                rate: Some(rate.code()),
                value: Some(*value),
                ..none
            },
        }
    }

    /// The detail of a stored row of `kind` (None: a row ingest would not
    /// have stored, such as a service without its category).
    pub fn from_fields(kind: Kind, f: Fields<'_>) -> Option<Detail> {
        match kind {
            Kind::Scan => Some(Detail::Scan {
                channel: f.channel.map(str::to_string),
            }),
            Kind::Assess => f
                .colour
                .and_then(Colour::parse)
                .map(|colour| Detail::Assess { colour }),
            Kind::Enroll => f.team.map(|t| Detail::Enroll {
                team: t.to_string(),
            }),
            Kind::Service => match (f.team, f.category.and_then(Category::parse)) {
                (Some(team), Some(category)) => Some(Detail::Service {
                    team: team.to_string(),
                    category,
                }),
                _ => None,
            },
            Kind::Train => f
                .stage
                .and_then(Stage::parse)
                .map(|stage| Detail::Train { stage }),
            Kind::Outcome => match (f.rate.and_then(Rate::parse), f.value) {
                (Some(rate), Some(value)) => Some(Detail::Outcome { rate, value }),
                _ => None,
            },
        }
    }
}

/// How a body is written (the Content-Type of `POST /api/v1/events`), kept
/// with every request's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Ndjson,
    Json,
    Csv,
    Arrow,
}

impl Format {
    /// From a Content-Type header (parameters such as `charset` are ignored).
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/x-jsonlines" => Some(Format::Ndjson),
            "application/json" => Some(Format::Json),
            "text/csv" => Some(Format::Csv),
            "application/vnd.apache.arrow.stream" => Some(Format::Arrow),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Arrow => "arrow",
        }
    }
}

/// Every fixed list by its field name, with its codes in order: what the
/// store's ENUM types, the saved figures and docs/openapi.json are checked
/// against.
pub fn lists() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        (Kind::FIELD, Kind::codes()),
        (Colour::FIELD, Colour::codes()),
        (Category::FIELD, Category::codes()),
        (Stage::FIELD, Stage::codes()),
        (Rate::FIELD, Rate::codes()),
        ("nine_rate", NineRate::codes()),
        (Plan::FIELD, Plan::codes()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lists as the program's documents have them. A value added to a
    /// list is added here too; everything else follows the list (ARCHITECTURE.md).
    #[test]
    fn the_lists_in_the_programs_order() {
        let lists = lists();
        let spelled: Vec<(&str, Vec<&str>)> = vec![
            (
                "kind",
                vec!["scan", "assess", "enroll", "service", "train", "outcome"],
            ),
            ("colour", vec!["green", "orange", "pink", "yellow", "blue"]),
            (
                "category",
                vec![
                    "idea_promotion",
                    "science_push",
                    "activity",
                    "learning",
                    "skills_training",
                    "behaviour_contest",
                    "health_management",
                    "patient_followup",
                    "treatment",
                    "key_intervention",
                ],
            ),
            ("stage", vec!["enrolled", "certified"]),
            (
                "rate",
                vec![
                    "awareness",
                    "compliance",
                    "participation",
                    "satisfaction",
                    "attainment",
                    "improvement",
                    "effectiveness",
                    "management",
                    "control",
                    "prevention",
                ],
            ),
            (
                "nine_rate",
                vec![
                    "awareness",
                    "participation",
                    "satisfaction",
                    "attainment",
                    "improvement",
                    "effectiveness",
                    "management",
                    "control",
                    "prevention",
                ],
            ),
            ("plan", vec!["training", "technical", "implementation"]),
        ];
        assert_eq!(lists, spelled);
        assert_eq!(
            (Colour::COUNT, Category::COUNT, NineRate::COUNT),
            (5, 10, 9)
        );
        assert_eq!(
            Colour::expected(),
            "colour: must be one of green, orange, pink, yellow, blue"
        );
        assert_eq!(Colour::parse("粉色"), Some(Colour::Pink));
        assert_eq!(Colour::parse("purple"), None);
        // Each rate's plan: three to a plan, in order.
        let plans: Vec<&str> = NineRate::ALL.iter().map(|r| r.plan().code()).collect();
        assert_eq!(
            plans,
            [
                "training",
                "training",
                "training",
                "technical",
                "technical",
                "technical",
                "implementation",
                "implementation",
                "implementation"
            ]
        );
    }
}
