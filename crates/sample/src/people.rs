//! Names, notes and consent wording in English, Hindi, Telugu and Armenian.
//!
//! Every name is stored with its transliteration so that a customer writing in their own script
//! still gets a plausible ASCII email address, and so that the same family name can appear in
//! Latin script for customers who use the shop in English.

use rand::Rng;
use regulars_domain::{ConsentChannel, Locale};

use crate::pick::one_of;

/// The language a customer uses the shop in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    Hi,
    Te,
    Hy,
}

impl Lang {
    pub(crate) fn locale(self) -> Locale {
        let tag = match self {
            Lang::En => "en",
            Lang::Hi => "hi",
            Lang::Te => "te",
            Lang::Hy => "hy",
        };
        Locale::parse(tag).expect("static language tags are valid")
    }

    pub(crate) fn customer_note(self, rng: &mut impl Rng) -> &'static str {
        one_of::<&str>(rng, notes(self).customer)
    }

    pub(crate) fn order_note(self, rng: &mut impl Rng) -> &'static str {
        one_of::<&str>(rng, notes(self).order)
    }

    /// The notice text shown next to the consent checkbox, in this language.
    pub(crate) fn consent_notice(self, channel: ConsentChannel) -> &'static str {
        let n = notes(self);
        match channel {
            ConsentChannel::Email => n.email_notice,
            ConsentChannel::Sms => n.sms_notice,
            ConsentChannel::Whatsapp => n.whatsapp_notice,
        }
    }
}

/// Where a name comes from; independent of the language the customer writes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Hindi,
    Telugu,
    Armenian,
    Anglo,
}

/// A name in its own script and in Latin letters (identical for English names).
type Name = (&'static str, &'static str);

pub(crate) struct PersonName {
    pub first: &'static str,
    pub last: &'static str,
    /// ASCII forms, for the email address.
    pub first_latin: &'static str,
    pub last_latin: &'static str,
}

impl Origin {
    /// The script names of this origin are written in by customers of language `lang`:
    /// native when they match, Latin otherwise.
    pub(crate) fn name(self, lang: Lang, rng: &mut impl Rng) -> PersonName {
        let (firsts, lasts) = self.pools();
        let first = *one_of(rng, firsts);
        let last = *one_of(rng, lasts);
        let native = matches!(
            (self, lang),
            (Origin::Hindi, Lang::Hi) | (Origin::Telugu, Lang::Te) | (Origin::Armenian, Lang::Hy)
        );
        let script = |n: Name| if native { n.0 } else { n.1 };
        PersonName {
            first: script(first),
            last: script(last),
            first_latin: first.1,
            last_latin: last.1,
        }
    }

    fn pools(self) -> (&'static [Name], &'static [Name]) {
        match self {
            Origin::Hindi => (HINDI_FIRST, HINDI_LAST),
            Origin::Telugu => (TELUGU_FIRST, TELUGU_LAST),
            Origin::Armenian => (ARMENIAN_FIRST, ARMENIAN_LAST),
            Origin::Anglo => (ENGLISH_FIRST, ENGLISH_LAST),
        }
    }
}

const HINDI_FIRST: &[Name] = &[
    ("प्रिया", "Priya"),
    ("राहुल", "Rahul"),
    ("अनीता", "Anita"),
    ("अमित", "Amit"),
    ("सुनीता", "Sunita"),
    ("विकास", "Vikas"),
    ("पूजा", "Pooja"),
    ("अर्जुन", "Arjun"),
    ("नेहा", "Neha"),
    ("रोहित", "Rohit"),
    ("कविता", "Kavita"),
    ("संजय", "Sanjay"),
    ("दीपिका", "Deepika"),
    ("आदित्य", "Aditya"),
    ("मीरा", "Meera"),
    ("करण", "Karan"),
    ("आरती", "Aarti"),
    ("सौरभ", "Saurabh"),
];

const HINDI_LAST: &[Name] = &[
    ("शर्मा", "Sharma"),
    ("वर्मा", "Verma"),
    ("गुप्ता", "Gupta"),
    ("सिंह", "Singh"),
    ("अग्रवाल", "Agarwal"),
    ("मिश्रा", "Mishra"),
    ("यादव", "Yadav"),
    ("जोशी", "Joshi"),
    ("पांडे", "Pandey"),
    ("चौहान", "Chauhan"),
    ("श्रीवास्तव", "Srivastava"),
    ("त्रिपाठी", "Tripathi"),
];

const TELUGU_FIRST: &[Name] = &[
    ("రవి", "Ravi"),
    ("లక్ష్మి", "Lakshmi"),
    ("శ్రీనివాస్", "Srinivas"),
    ("పద్మ", "Padma"),
    ("వెంకట్", "Venkat"),
    ("సాయి", "Sai"),
    ("కావ్య", "Kavya"),
    ("సురేష్", "Suresh"),
    ("అనూష", "Anusha"),
    ("మహేష్", "Mahesh"),
    ("స్వాతి", "Swathi"),
    ("కిరణ్", "Kiran"),
    ("దివ్య", "Divya"),
    ("రాజు", "Raju"),
    ("శ్రావణి", "Sravani"),
    ("ప్రసన్న", "Prasanna"),
];

const TELUGU_LAST: &[Name] = &[
    ("కుమార్", "Kumar"),
    ("రెడ్డి", "Reddy"),
    ("రావు", "Rao"),
    ("నాయుడు", "Naidu"),
    ("చౌదరి", "Chowdary"),
    ("వర్మ", "Varma"),
    ("శాస్త్రి", "Sastry"),
    ("గౌడ్", "Goud"),
    ("ప్రసాద్", "Prasad"),
    ("మూర్తి", "Murthy"),
];

const ARMENIAN_FIRST: &[Name] = &[
    ("Անի", "Ani"),
    ("Արամ", "Aram"),
    ("Նարե", "Nare"),
    ("Դավիթ", "Davit"),
    ("Մարիամ", "Mariam"),
    ("Տիգրան", "Tigran"),
    ("Լուսինե", "Lusine"),
    ("Արմեն", "Armen"),
    ("Գայանե", "Gayane"),
    ("Հայկ", "Hayk"),
    ("Սոնա", "Sona"),
    ("Գևորգ", "Gevorg"),
    ("Աննա", "Anna"),
    ("Կարեն", "Karen"),
    ("Լիլիթ", "Lilit"),
    ("Վահե", "Vahe"),
];

const ARMENIAN_LAST: &[Name] = &[
    ("Սարգսյան", "Sargsyan"),
    ("Հովհաննիսյան", "Hovhannisyan"),
    ("Գրիգորյան", "Grigoryan"),
    ("Պետրոսյան", "Petrosyan"),
    ("Հարությունյան", "Harutyunyan"),
    ("Խաչատրյան", "Khachatryan"),
    ("Մկրտչյան", "Mkrtchyan"),
    ("Ավետիսյան", "Avetisyan"),
    ("Կարապետյան", "Karapetyan"),
    ("Վարդանյան", "Vardanyan"),
    ("Ղազարյան", "Ghazaryan"),
    ("Մանուկյան", "Manukyan"),
];

const ENGLISH_FIRST: &[Name] = &[
    ("Emma", "Emma"),
    ("Liam", "Liam"),
    ("Olivia", "Olivia"),
    ("Noah", "Noah"),
    ("Sophia", "Sophia"),
    ("James", "James"),
    ("Ava", "Ava"),
    ("Michael", "Michael"),
    ("Isabella", "Isabella"),
    ("Daniel", "Daniel"),
    ("Grace", "Grace"),
    ("Ethan", "Ethan"),
    ("Chloe", "Chloe"),
    ("Ryan", "Ryan"),
    ("Hannah", "Hannah"),
    ("Maria", "Maria"),
];

const ENGLISH_LAST: &[Name] = &[
    ("Smith", "Smith"),
    ("Johnson", "Johnson"),
    ("Williams", "Williams"),
    ("Brown", "Brown"),
    ("Garcia", "Garcia"),
    ("Miller", "Miller"),
    ("Davis", "Davis"),
    ("Wilson", "Wilson"),
    ("Anderson", "Anderson"),
    ("Taylor", "Taylor"),
    ("O'Connor", "OConnor"),
    ("Moore", "Moore"),
    ("Clark", "Clark"),
    ("Nguyen", "Nguyen"),
];

/// Free text a shop keeps about its customers and orders, as customers would write it.
struct Notes {
    customer: &'static [&'static str],
    order: &'static [&'static str],
    email_notice: &'static str,
    sms_notice: &'static str,
    whatsapp_notice: &'static str,
}

fn notes(lang: Lang) -> &'static Notes {
    match lang {
        Lang::En => &ENGLISH_NOTES,
        Lang::Hi => &HINDI_NOTES,
        Lang::Te => &TELUGU_NOTES,
        Lang::Hy => &ARMENIAN_NOTES,
    }
}

const ENGLISH_NOTES: Notes = Notes {
    customer: &[
        "Prefers evening delivery",
        "Allergic to nuts",
        "Buys gifts for Diwali every year",
        "Likes strong Assam tea, ask before substituting",
        "Runs a small cafe, asks about bulk prices",
        "Prefers a call over email",
    ],
    order: &[
        "Please call before delivery",
        "Gift wrap, please",
        "Leave the parcel with the neighbour",
        "Deliver after 6 pm",
        "No plastic packaging if possible",
    ],
    email_notice: "Yes, send me offers and news by email. I can unsubscribe at any time.",
    sms_notice: "Yes, text me about my orders and offers. Reply STOP to opt out.",
    whatsapp_notice: "Yes, message me on WhatsApp about my orders and offers.",
};

const HINDI_NOTES: Notes = Notes {
    customer: &[
        "शाम को डिलीवरी पसंद है",
        "कम मसालेदार चाय पसंद है",
        "हर दिवाली पर उपहार खरीदती हैं",
        "ईमेल के बजाय फ़ोन करना पसंद है",
        "छोटी दुकान चलाते हैं, थोक दाम पूछते हैं",
    ],
    order: &[
        "डिलीवरी से पहले फ़ोन करें",
        "उपहार के लिए पैक करें",
        "पड़ोसी के पास पार्सल छोड़ दें",
        "शाम 6 बजे के बाद डिलीवरी करें",
    ],
    email_notice: "हाँ, मुझे ईमेल से ऑफ़र और समाचार भेजें। मैं कभी भी सदस्यता छोड़ सकता/सकती हूँ।",
    sms_notice: "हाँ, मुझे ऑर्डर और ऑफ़र के बारे में SMS भेजें। बंद करने के लिए STOP लिखें।",
    whatsapp_notice: "हाँ, मुझे ऑर्डर और ऑफ़र के बारे में WhatsApp पर संदेश भेजें।",
};

const TELUGU_NOTES: Notes = Notes {
    customer: &[
        "సాయంత్రం డెలివరీ ఇష్టం",
        "ఏలకుల టీ అంటే ఇష్టం",
        "సంక్రాంతికి బహుమతులు కొంటారు",
        "ఈమెయిల్ కంటే ఫోన్ చేయడం ఇష్టం",
    ],
    order: &[
        "డెలివరీకి ముందు ఫోన్ చేయండి",
        "బహుమతిగా ప్యాక్ చేయండి",
        "పార్సెల్‌ను పక్కింటివారికి ఇవ్వండి",
        "సాయంత్రం 6 తర్వాత డెలివరీ చేయండి",
    ],
    email_notice: "అవును, ఆఫర్లు మరియు వార్తలను ఈమెయిల్ ద్వారా పంపండి. నేను ఎప్పుడైనా అన్‌సబ్‌స్క్రైబ్ చేయవచ్చు.",
    sms_notice: "అవును, నా ఆర్డర్లు మరియు ఆఫర్ల గురించి SMS పంపండి. ఆపడానికి STOP అని పంపండి.",
    whatsapp_notice: "అవును, నా ఆర్డర్లు మరియు ఆఫర్ల గురించి WhatsAppలో సందేశం పంపండి.",
};

const ARMENIAN_NOTES: Notes = Notes {
    customer: &[
        "Նախընտրում է երեկոյան առաքում",
        "Սիրում է չիր ծիրան",
        "Ամանորին նվերներ է գնում գործընկերների համար",
        "Նախընտրում է զանգ, ոչ թե էլ. նամակ",
    ],
    order: &[
        "Առաքումից առաջ զանգահարել",
        "Փաթեթավորել որպես նվեր",
        "Թողնել ծանրոցը հարևանի մոտ",
        "Առաքել երեկոյան 6-ից հետո",
    ],
    email_notice:
        "Այո, ուղարկեք ինձ առաջարկներ և նորություններ էլ. փոստով։ Կարող եմ ցանկացած պահի հրաժարվել։",
    sms_notice: "Այո, ուղարկեք SMS իմ պատվերների և առաջարկների մասին։ Դադարեցնելու համար գրեք STOP։",
    whatsapp_notice: "Այո, գրեք ինձ WhatsApp-ով իմ պատվերների և առաջարկների մասին։",
};

/// `priya.sharma42`, `priyasharma42` or `psharma42`: `n` keeps every address unique.
pub(crate) fn email_local(name: &PersonName, n: usize, rng: &mut impl Rng) -> String {
    let first = ascii_lower(name.first_latin);
    let last = ascii_lower(name.last_latin);
    match rng.gen_range(0..3) {
        0 => format!("{first}.{last}{n}"),
        1 => format!("{first}{last}{n}"),
        _ => format!("{}{last}{n}", &first[..1]),
    }
}

fn ascii_lower(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn native_script_only_for_matching_language() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let hy = Origin::Armenian.name(Lang::Hy, &mut rng);
        assert!(hy.first.chars().any(|c| ('\u{0530}'..='\u{058F}').contains(&c)));
        let en = Origin::Armenian.name(Lang::En, &mut rng);
        assert!(en.first.is_ascii() && en.last.is_ascii());
    }

    #[test]
    fn every_transliteration_is_ascii_letters() {
        let all = [
            HINDI_FIRST,
            HINDI_LAST,
            TELUGU_FIRST,
            TELUGU_LAST,
            ARMENIAN_FIRST,
            ARMENIAN_LAST,
        ];
        for (_, latin) in all.iter().flat_map(|pool| pool.iter()) {
            assert!(
                !latin.is_empty() && latin.chars().all(|c| c.is_ascii_alphabetic()),
                "{latin}"
            );
        }
    }
}
