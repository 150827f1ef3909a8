app-name = Regulars
app-tagline = ఒక్కసారి కొన్నవారిని నిత్య కస్టమర్లుగా మార్చండి

nav-overview = సారాంశం
nav-customers = కస్టమర్లు
nav-orders = ఆర్డర్లు
nav-import = దిగుమతి
nav-settings = సెట్టింగ్‌లు
nav-language = భాష
nav-store = స్టోర్
nav-signed-in-as = { $email } గా సైన్ ఇన్ అయ్యారు
nav-logout = సైన్ అవుట్

login-title = సైన్ ఇన్
login-email = ఈమెయిల్
login-password = పాస్‌వర్డ్
login-submit = సైన్ ఇన్
login-failed = ఈ ఈమెయిల్ మరియు పాస్‌వర్డ్ సరిపోలలేదు.
login-throttled = చాలా ప్రయత్నాలు జరిగాయి. { $seconds } సెకన్ల తర్వాత మళ్ళీ ప్రయత్నించండి.
login-logged-out = మీరు సైన్ అవుట్ అయ్యారు.

role-owner = యజమాని
role-admin = అడ్మిన్
role-marketer = మార్కెటర్
role-support = సపోర్ట్ ఏజెంట్
role-account_manager = అకౌంట్ మేనేజర్
role-viewer = వీక్షకుడు

overview-title = సారాంశం
overview-period = గత { $days } రోజులు
overview-orders = ఆర్డర్లు
overview-revenue = ఆదాయం
overview-customers = కస్టమర్లు
overview-new-customers = కొత్త కస్టమర్లు
overview-returning-customers = తిరిగి వచ్చిన కస్టమర్లు
overview-day = రోజు
overview-repeat-rate = మళ్ళీ కొనుగోలు రేటు

error-forbidden = ఈ పేజీకి మీకు అనుమతి లేదు.
error-not-found = ఇక్కడ ఏమీ లేదు.
error-csrf = ఈ ఫారం గడువు ముగిసింది. పేజీని మళ్ళీ లోడ్ చేసి ప్రయత్నించండి.

login-link-spent = ఈ సైన్-ఇన్ లింక్ గడువు ముగిసింది లేదా ఇప్పటికే వాడారు. మీ పాస్‌వర్డ్‌తో సైన్ ఇన్ చేయండి.
account-title = మీ ఖాతా
account-current = ప్రస్తుత పాస్‌వర్డ్
account-new = కొత్త పాస్‌వర్డ్
account-repeat = కొత్త పాస్‌వర్డ్ మళ్లీ
account-submit = పాస్‌వర్డ్ మార్చు
account-changed = మీ పాస్‌వర్డ్ మారింది. ఇతర పరికరాల నుంచి సైన్ అవుట్ చేశాం.
account-mismatch = రెండు కొత్త పాస్‌వర్డ్‌లు వేరుగా ఉన్నాయి.
account-wrong-current = ప్రస్తుత పాస్‌వర్డ్ సరైనది కాదు.
account-too-short = పాస్‌వర్డ్‌లో కనీసం { $chars } అక్షరాలు ఉండాలి.
