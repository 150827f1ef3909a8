# Settings: store, API keys, webhook secrets, people.
settings-currency = मुद्रा
settings-timezone = समय क्षेत्र
settings-locale = डिफ़ॉल्ट भाषा
settings-webhooks = दुकान वेबहुक
settings-webhooks-help = इन पतों को इस सर्वर के सार्वजनिक पते के साथ अपनी दुकान के एडमिन में चिपकाएँ।
settings-people = लोग
settings-role = भूमिका
