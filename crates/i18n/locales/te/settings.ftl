# Settings: store, API keys, webhook secrets, people.
settings-currency = కరెన్సీ
settings-timezone = సమయ మండలం
settings-locale = డిఫాల్ట్ భాష
settings-webhooks = షాప్ వెబ్‌హుక్‌లు
settings-webhooks-help = ఈ చిరునామాలను ఈ సర్వర్ పబ్లిక్ చిరునామాతో కలిపి మీ షాప్ అడ్మిన్‌లో అతికించండి.
settings-people = వ్యక్తులు
settings-role = పాత్ర
