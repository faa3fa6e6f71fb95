"""Names of the channel variables shared by the generated dialplan, the AGI routes and the desk.

One module, so the dialplan template and the Python code can never disagree on a name.
Variables set with a ``__`` prefix in the dialplan are inherited by every channel the call creates
(Local halves, the agent leg, transfer legs), so the desk sees them on whichever channel it watches.
"""

LINE = "HOTLINE_LINE"                  # the 123xx line the call is handled as (12345 for unknown numbers)
DIALED = "HOTLINE_DIALED"              # the number exactly as the carrier delivered it
LINE_CLASS = "HOTLINE_LINE_CLASS"      # numberplan.LineClass value, or "unknown"
LINE_NAME = "HOTLINE_LINE_NAME"        # e.g. 民政服务热线
DEPARTMENT = "HOTLINE_DEPARTMENT"      # the department the line belonged to
LINE_STATE = "HOTLINE_LINE_STATE"      # active | transition | retired
SUBCENTER = "HOTLINE_SUBCENTER"        # 12360 / 12366 / 12305 when the citizen dialed a sub-center number
SUBPLATFORM = "HOTLINE_SUBPLATFORM"    # division code of the city/county sub-platform (e.g. 460100)
QUEUE = "HOTLINE_QUEUE"                # the queue the caller will join at the province
CALL_ID = "HOTLINE_CALL_ID"            # the call's id: the UNIQUEID of the inbound channel
AGI_STATUS = "HOTLINE_AGI_STATUS"      # NONE before the route runs, OK or FAILED after
LINKAGE = "HOTLINE_LINKAGE"            # emergency / one-key target the call was handed to
TRANSFER_TARGET = "HOTLINE_TRANSFER"   # number dialed on a transfer trunk
APPEAL_TYPE = "HOTLINE_APPEAL_TYPE"    # the IVR menu's appeal type (consultation, complaint, ...)
EMERGENCY = "HOTLINE_EMERGENCY"        # set by the IVR: hand the call to this emergency number
TICKET = "HOTLINE_TICKET"              # the ticket number a caller queried in the IVR (工单进度查询)
CONFERENCE = "HOTLINE_CONFERENCE"      # the ConfBridge room of a three-way transfer (set before the AMI Redirect)
TRANSFER_KIND = "HOTLINE_TRANSFER_KIND"  # three_way | retained_seat | one_key | emergency | blind | attended | queue
RING_TIMEOUT = "HOTLINE_RING_TIMEOUT"  # seconds a transfer target may ring (the desk may shorten the trunk's)
AGENT = "HOTLINE_AGENT"                # the agent extension handling / transferring the call
SOURCE = "HOTLINE_SOURCE"              # the address (no port) a network call came from: the rate limit's key
SCREENED = "HOTLINE_SCREENED"          # 1 once the inbound screen ran on this channel (it runs once)
LIVE = "HOTLINE_LIVE"                  # 1 (inherited): listen to this call for the live transcript
LISTENING = "HOTLINE_LISTENING"        # set on a channel once its listening leg was started (once per channel)
SPY = "HOTLINE_SPY"                    # on a listening leg: the channel it listens to
SIDE = "HOTLINE_SIDE"                  # on a listening leg: citizen | agent
QUEUE_POSITION = "HOTLINE_QPOS"        # where a caller who stepped out with a key rejoins the queue
OUT_ID = "HOTLINE_OUT_ID"              # an outbound call's id ([hotline-outbound]): in its events and recording name
CALLBACK_ID_PREFIX = "cb-"  # an agent's 回拨: its OUT_ID, and the call id its listening legs are transcribed under
OUT_NUMBER = "HOTLINE_OUT_NUMBER"      # the citizen's number an outbound call dials (checked again in the dialplan)
OUT_RING = "HOTLINE_OUT_RING"          # seconds the citizen's phone may ring
REVISIT_TICKET = "HOTLINE_REVISIT_TICKET"  # 智能回访: the ticket number the automated call reads out
REVISIT_TOPIC = "HOTLINE_REVISIT_TOPIC"    # 智能回访: the ticket's topic code (hotline/data/topics.yaml; "" when none)
REVISIT_NEXT = "HOTLINE_REVISIT_NEXT"      # set by the revisit route: "agent" (key 0) or "" (hang up)

# Sent with every AMI channel event (manager.conf channelvars): what the desk's listener needs to know.
AMI_CHANNELVARS = (CALL_ID, LINE, LINE_CLASS, SUBPLATFORM, QUEUE, APPEAL_TYPE, AGENT)

# Dialplan globals (set in [globals] by the generator)
AGI_URL = "HOTLINE_AGI_URL"
SOUNDS = "HOTLINE_SOUNDS"
TODAY_OVERRIDE = "HOTLINE_TODAY_OVERRIDE"
TODAY = "HOTLINE_TODAY"
INBOUND_LIMIT = "HOTLINE_INBOUND_LIMIT"  # global: calls one source may hold in the inbound dialplan
SOURCE_GROUP = "hotline-source"        # GROUP() category counting inbound calls per source address
OUTBOUND_GROUP = "hotline-outbound"    # GROUP() category counting outbound calls per trunk
OUTBOUND_LIMIT = "HOTLINE_OUTBOUND_LIMIT"  # global: most simultaneous outbound calls on the carrier trunk
CENTER_NUMBER = "HOTLINE_CENTER_NUMBER"    # global: the caller ID of every outbound call (12345)

# UserEvent HotlineOutbound (Result: ...) from [hotline-outbound]
OUT_DIALING = "dialing"        # checked, within the limit: the citizen is being dialled
OUT_REFUSED = "refused"        # Reason: malformed | foreign
OUT_TRUNK_BUSY = "trunk_busy"  # the trunk already carries its limit of outbound calls
OUT_NO_TRUNK = "no_trunk"      # the site has no outbound carrier (carrier.host)
OUT_ENDED = "ended"            # the call is over (DialStatus, HangupCause of the citizen's leg)

# Values
AGI_OK = "OK"
AGI_FAILED = "FAILED"
AGI_NONE = "NONE"
UNKNOWN_CLASS = "unknown"

# Dialplan contexts
CTX_INBOUND = "hotline-inbound"        # where the carrier trunk delivers calls
CTX_ENTRY = "hotline-entry"            # the 12345 flow every answered line goes through
CTX_AGI_FAIL = "hotline-agi-fail"      # where a failed or unreachable AGI route lands
CTX_QUEUE = "hotline-queue"            # sub-platform queue with overflow to the province
CTX_SUBPLATFORM = "hotline-subplatform"
CTX_RETIRED = "hotline-retired"        # retired-number notice offering to connect to 12345
CTX_TRANSFER = "hotline-transfer"      # numbers agents may dial: sub-centers, retained seats, one-key, emergency
CTX_AGENTS = "hotline-agents"          # context of agent softphones
CTX_TODAY = "hotline-today"
CTX_SCREEN = "hotline-screen"          # Gosub'd first by every inbound extension: caller ID clean-up, rate limit
CTX_SURVEY = "hotline-survey"          # the agent hung up first (Queue option c): the callback survey
CTX_CONFERENCE = "hotline-conference"  # AMI Redirect lands here: exten citizen | agent | far, room in CONFERENCE
CTX_AGENT_QUEUES = "hotline-agent-queues"  # Gosub(...,<extension>,1(login|logout)): an agent's queue membership
CTX_TO_QUEUE = "hotline-to-queue"      # blind transfer destination: exten = queue name
CTX_QUEUE_KEYS = "hotline-queue-keys"  # queues.conf context=: keys a waiting caller may press (9, 5)
CTX_AGENT_CONNECT = "hotline-agent-connect"  # Queue()'s gosub on the agent's channel at the answer
CTX_AGENT_DIAL = "hotline-agent-dial"  # cluster: Queue() b() on each agent leg: its wrap-up seconds to the proxy
WRAPUP_HEADER = "X-Hotline-Wrapup"      # cluster: the proxy holds the agent this long after the call ends
CTX_LISTEN_START = "hotline-listen-start"    # Gosub(...,citizen|agent,1): start a channel's listening leg
CTX_LISTEN = "hotline-listen"          # the listening legs (ChanSpy ─ Local ─ AGI listen/AudioSocket)
CTX_EMERGENCY_WORDS = "hotline-emergency-words"  # the waiting caller said emergency words: announce, hand off
CTX_OUTBOUND = "hotline-outbound"      # calls out to citizens over the carrier trunk (回拨, 回访 campaigns)
CTX_OUTBOUND_LISTEN = "hotline-outbound-listen"  # Dial U(): the citizen answered an agent's 回拨: both sides' legs
CTX_REVISIT = "hotline-revisit"        # 智能回访: the IVR half of Local/s@hotline-outbound (AGI route revisit)

# Agent feature codes (dialled from a softphone in CTX_AGENTS)
CODE_LOGIN = "*11"
CODE_LOGOUT = "*12"
CODE_PAUSE = "*13"
CODE_UNPAUSE = "*14"

ALL = {k: v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str)}
