"""nanofolks-whatsapp: the crew on WhatsApp, through a WhatsApp Web bridge the plugin ships and starts."""
