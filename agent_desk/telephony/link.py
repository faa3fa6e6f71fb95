"""The desk's handle on the phone system: the listener's AMI connection plus the number plan and site.

``hotline run`` puts one on ``app.state.telephony`` once the listener is connected; request handlers get it
through ``agent_desk.api.deps.telephony`` (503 with a Chinese message while there is none or AMI is down).
There is one AMI connection per desk process: the listener's.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.ami import AmiClient
from hotline.numberplan import NumberPlan
from hotline.site import SiteConfig


@dataclass(frozen=True)
class TelephonyLink:
    ami: AmiClient
    plan: NumberPlan
    site: SiteConfig

    @property
    def connected(self) -> bool:
        return bool(self.ami.manager.authenticated)
