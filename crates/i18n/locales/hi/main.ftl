app-name = Regulars
app-tagline = एक बार के ख़रीदारों को नियमित ग्राहक बनाइए

nav-overview = सारांश
nav-customers = ग्राहक
nav-orders = ऑर्डर
nav-import = आयात
nav-settings = सेटिंग्स
nav-language = भाषा
nav-store = स्टोर
nav-signed-in-as = { $email } के रूप में साइन इन
nav-logout = साइन आउट

login-title = साइन इन करें
login-email = ईमेल
login-password = पासवर्ड
login-submit = साइन इन करें
login-failed = यह ईमेल और पासवर्ड मेल नहीं खाते।
login-throttled = बहुत अधिक प्रयास। { $seconds } सेकंड बाद फिर कोशिश करें।
login-logged-out = आप साइन आउट हो गए हैं।

role-owner = मालिक
role-admin = एडमिन
role-marketer = मार्केटर
role-support = सहायता एजेंट
role-account_manager = अकाउंट मैनेजर
role-viewer = दर्शक

overview-title = सारांश
overview-period = पिछले { $days } दिन
overview-orders = ऑर्डर
overview-revenue = आय
overview-customers = ग्राहक
overview-new-customers = नए ग्राहक
overview-returning-customers = लौटकर आए ग्राहक
overview-day = दिन
overview-repeat-rate = दोबारा ख़रीद दर

error-forbidden = आपको इस पेज की अनुमति नहीं है।
error-not-found = यहाँ कुछ नहीं है।
error-csrf = यह फ़ॉर्म पुराना हो गया है। पेज फिर से लोड करके कोशिश करें।

login-link-spent = यह साइन-इन लिंक समाप्त हो चुका है या पहले ही इस्तेमाल हो चुका है। अपने पासवर्ड से साइन इन करें।
account-title = आपका खाता
account-current = मौजूदा पासवर्ड
account-new = नया पासवर्ड
account-repeat = नया पासवर्ड दोबारा
account-submit = पासवर्ड बदलें
account-changed = आपका पासवर्ड बदल गया है। दूसरे उपकरणों से साइन आउट कर दिया गया है।
account-mismatch = दोनों नए पासवर्ड अलग हैं।
account-wrong-current = मौजूदा पासवर्ड सही नहीं है।
account-too-short = पासवर्ड में कम से कम { $chars } अक्षर होने चाहिए।
