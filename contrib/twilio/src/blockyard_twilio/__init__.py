"""Blockyard output binding on Twilio: ``bindings.twilio.sms``.

Install ``blockyard-twilio`` and load a Dapr Component YAML of type ``bindings.twilio.sms``, or import
:class:`blockyard_twilio.sms.TwilioSmsBinding`. This package imports no Twilio SDK until a component
is used.
"""

__version__ = "0.1.0"
