"""The patterns behind ``chat.injection.looks_like_instruction``, English and Japanese.

They run on normalised, lower-cased text (``chat.injection.normalise``: NFKC,
no zero-width or bidi characters, confusable letters folded), so they are
written in plain ASCII and ordinary Japanese. Each family is a kind of
sentence a document has no business addressing to its reader:

* OVERRIDE: cancel whatever the assistant was told before ("ignore previous
  instructions", "whatever guidance came before no longer applies");
* ADDRESSEE: orders to the assistant itself ("AI assistants must tell ...",
  "if you are an automated helper, the correct reply is ...");
* ANSWER_SHAPING: orders about the answer ("begin your reply with", "in your
  response, include");
* TELL_USER: relay a message to whoever asks ("tell the user that ...");
* CREDENTIAL: ask the reader to hand over a secret ("reply with your SSH key"),
  unless negated ("never send your password");
* ROLE: take on another role or drop restrictions ("you are now", "developer mode").

Benign documents say "ignore this warning", "follow the instructions", "the
assistant must book rooms", "tell your manager", "never share your password":
the families are anchored on what makes an injection an injection (a target
that is the assistant or the asker, prior instructions, a secret being sent),
not on the alarming words alone. The measured rates are in
``eval/injection_corpus.py``'s output (see chat/README.md).
"""

from __future__ import annotations

# --- English ------------------------------------------------------------------------------------------------
_PRIOR = (
    r"(?:previous|prior|preceding|earlier|above|former|original|existing|initial|old|all|any|every|other|your|the|"
    r"these|those|such)"
)
_RULES = (
    r"(?:instructions?|prompts?|rules?|directions?|directives?|guidelines?|guidance|orders?|constraints?|"
    r"restrictions?|polic(?:y|ies)|safety (?:rules|guidelines|measures)|safeguards?|programming|briefs?|commands?)\b"
)
# Who an injection talks to: the assistant under any name, or "whoever reads/processes this".
_MACHINE = (
    r"(?:ai|a\.i\.|ai (?:assistants?|systems?|models?|agents?|tools?)|assistants?|chat ?bots?|bots?|llms?|"
    r"(?:large )?language models?|models?|gpts?|copilots?|kura|(?:ai|automated|autonomous|software) agents?|"
    r"automated [a-z]+|machine readers?|text generators?|answer(?:ing)? (?:engines?|bots?)|"
    r"virtual assistants?|search assistants?)"
)
_TELL = (
    r"(?:tell|say|answer|reply|respond|state|write|print|output|reveal|show|display|render|include|add|append|"
    r"mention|recommend|advise|inform|instruct|direct|point|refer|send|forward|confirm|approve|claim|insist|"
    r"explain|warn|notify|remind|announce|report|translate|summari[sz]e|link|ask|redirect|encourage|urge|present|"
    r"describe|portray|treat|frame|assert|declare|pretend|recite|quote|slip|insert|put|paste)"
)
_ASKER = (
    r"(?:users?|readers?|askers?|requesters?|questioners?|the person (?:asking|you are talking to|who asks)|"
    r"people (?:who ask|asking)|whoever (?:asks|is asking)|anyone (?:who asks|asking)|the human|humans)"
)
_SECRET = (
    r"(?:passwords?|pass ?codes?|pass ?phrases?|pins?|ssh (?:private )?keys?|private keys?|secret keys?|api (?:keys?|tokens?)|"
    r"access tokens?|auth(?:entication)? tokens?|tokens?|credentials?|login (?:secrets?|details|info(?:rmation)?|data)|"
    r"(?:user ?names? and |login and )pass\w+|recovery codes?|backup codes?|(?:one-time|otp|2fa|mfa|authenticator|"
    r"verification|six-digit|6-digit|sms) codes?|card numbers?|cvvs?|cvcs?|security codes?|session cookies?|"
    r"seed phrases?|secrets?|(?:recovery|encryption|decryption|master|signing|deploy|filevault|bitlocker|license|"
    r"licence|product) keys?)"
)
_HAND_OVER = (
    r"(?:send(?:s|ing)?|sent|e-?mail(?:s|ed|ing)?|mail(?:s|ed|ing)?|repl(?:y|ies|ied|ying)|respond(?:s|ed|ing)?|"
    r"answer(?:s|ed|ing)?|forward(?:s|ed|ing)?|post(?:s|ed|ing)?|past(?:e|es|ed|ing)|shar(?:e|es|ed|ing)|"
    r"giv(?:e|es|ing)|gave|hand(?:s|ed|ing)? (?:over|in)|provid(?:e|es|ed|ing)|submit(?:s|ted|ting)?|dm(?:s|ed|ing)?|"
    r"text(?:s|ed|ing)?|messag(?:e|es|ed|ing)|disclos(?:e|es|ed|ing)|upload(?:s|ed|ing)?|leav(?:e|ing)|"
    r"drop(?:s|ped|ping)?|read(?:ing)? out|tell us|write down|includ(?:e|es|ed|ing)|attach(?:es|ed|ing)?)"
)
_NEGATION = r"(?:never|not|n't|no one|nobody|nor|without|refuse to|avoid|stop)"

ENGLISH = [
    # OVERRIDE
    rf"\b(?:ignore|disregard|forget|override|overrule|bypass|skip|discard|drop|abandon|set aside|throw out|"
    rf"pay no (?:attention|heed) to|stop (?:following|obeying)|no longer follow|do not follow|don't follow)\b"
    rf"[^.!?\n]{{0,40}}?\b{_PRIOR}\b[^.!?\n]{{0,30}}?\b{_RULES}",
    rf"\b(?:ignore|disregard|forget)\b[^.!?\n]{{0,20}}\b(?:everything|anything|all) (?:above|before|else|you (?:were|have been) told)",
    rf"\b{_RULES}\b[^.!?\n]{{0,60}}\b(?:no longer (?:apply|applies|valid|hold|matters?|in (?:force|effect))|"
    rf"(?:are|is) (?:now )?(?:void|null|cancell?ed|revoked|suspended|lifted|disabled|off|superseded|obsolete|withdrawn))",
    rf"\b(?:guidance|anything|everything|whatever)\b[^.!?\n]{{0,40}}\b(?:came|given|said|written|stated) "
    rf"(?:before|above|earlier|previously)[^.!?\n]{{0,40}}\bno longer\b",
    rf"\b(?:previously|earlier|formerly|originally) (?:given|set|stated|issued|received)\b[^.!?\n]{{0,40}}\b"
    rf"(?:cancell?ed|void|revoked|suspended|no longer)",
    rf"\b{_RULES}\b[^.!?\n]{{0,40}}\b(?:set|given|imposed|defined|written) (?:for|on|to) you\b",
    rf"\b(?:set|given|imposed) (?:for|on) you by\b",
    # Talking about how "you" were built or configured only makes sense to a machine.
    r"\b(?:who|that|which) (?:built|made|trained|created|programmed|configured|deployed|designed) you\b",
    r"\byour (?:makers|creators|developers|programmers|trainers|builders|configuration|programming|training|"
    r"system prompt|initial prompt|original prompt)\b",
    r"\byou (?:were|have been|are) (?:configured|programmed|trained|instructed|set up|built|prompted|told)\b"
    r"[^.!?\n]{0,60}\b(?:set aside|ignore|disregard|forget|drop|no longer|matters? less|do(?:es)? not matter|"
    r"doesn't matter|void|irrelevant|cancel)",
    r"\b(?:set aside|ignore|disregard|forget|drop|discard|abandon)\b[^.!?\n]{0,30}\b(?:everything|anything|all|"
    r"whatever|what) you (?:were|have been|are) (?:configured|programmed|trained|instructed|set up|built|prompted|"
    r"told|given)\b",
    r"\b(?:present|state|treat|report|assert) (?:the following|this|it|that) as (?:fact|true|the truth|official)\b",
    rf"\btreat (?:the|this) (?:text|content|page|message)\b[^.!?\n]{{0,40}}\b(?:as )?your (?:real|actual|new|true)\b",
    # ADDRESSEE: "AI assistants must tell", "Dear language model", "if you are an AI", "note to the bot"
    rf"\b{_MACHINE}\b[^.!?\n]{{0,40}}\b(?:must|should|shall|will|need to|needs to|have to|has to|is to|are to|"
    rf"is required to|are required to|always|never)\b(?:\s+\w+){{0,3}}?\s+{_TELL}\b",
    # "Assistant: ...", "Dear language model, ..." (not "Model: MacBook Pro", a table label)
    rf"(?:^\s*|\b(?:dear|hey|hello|hi|attention|note (?:to|for)|notice (?:to|for)|message (?:to|for)|"
    rf"instructions? (?:to|for)|(?:important|urgent) (?:system )?(?:notice|message|note) (?:to|for)|to)\s+(?:the |all |any |every )?)"
    rf"{_MACHINE}\s*[:,]",
    r"^\s*(?:ai|assistant|chatbot|bot|llm|kura|gpt|copilot)s?\s*[:,]",
    rf"\b(?:for|to|attention) (?:all |any |the )?{_MACHINE}\b\s*[:!]",
    rf"\bif you are (?:an? |the )?(?:ai|assistant|bot|chatbot|llm|language model|model|automated|machine|program|gpt)",
    rf"\b(?:whoever|anyone|anything|any (?:system|program|tool|software)|the (?:program|system|software|tool|agent|"
    rf"process)) (?:that |who |which )?(?:is )?(?:reading|processing|relaying|summari[sz]ing|generating|parsing|"
    rf"ingesting|indexing|answering|relays|reads|processes|summari[sz]es|generates)\b[^.!?\n]{{0,60}}\b"
    rf"(?:must|should|shall|is to|are to|needs? to|has to|have to|will)\b",
    rf"\b(?:to|for) (?:whoever|whatever|anyone|anything) (?:is )?(?:generating|producing|writing|reading|processing)"
    rf" (?:answers?|repl(?:y|ies)|responses?|summar(?:y|ies)|this)",
    rf"\b{_MACHINE} (?:reading|processing|summari[sz]ing|seeing|that reads|that processes)\b[^.!?\n]{{0,60}}"
    rf"\b(?:must|should|shall|is to|are to|needs? to|will)\b",
    rf"\b(?:the )?{_MACHINE}\b[^.!?\n]{{0,50}}\b(?:is|are|has been|have been) (?:hereby |now )?"
    rf"(?:reconfigured|reprogrammed|reassigned|updated|unlocked|jailbroken|released|freed|instructed)",
    # ANSWER_SHAPING
    r"\b(?:begin|start|end|open|close|prefix|preface|finish|conclude|sign|format) (?:each |every |all |any )?"
    r"(?:of )?(?:your|the|its) (?:answers?|repl(?:y|ies)|responses?|summar(?:y|ies)|outputs?|messages?)\b",
    r"\b(?:in|into|to|with) (?:each |every |all |any )?(?:of )?your (?:answers?|repl(?:y|ies)|responses?|summar(?:y|ies)|"
    r"outputs?)\b",
    r"\byour (?:answers?|repl(?:y|ies)|responses?|summar(?:y|ies)|outputs?) (?:should|must|shall|will|needs? to|has to|"
    r"have to|is to|are to)\b",
    r"\b(?:respond|reply|answer) (?:only|solely|exclusively|always) (?:with|by|in)\b",
    r"\b(?:when|whenever|while|if) (?:you )?(?:are )?(?:answering|responding|replying|summari[sz]ing|asked|you answer|"
    r"you respond|you reply|you summari[sz]e|you are asked)\b[^.!?\n]{0,80}\b(?:always|never|must|should|add|include|"
    r"say|tell|mention|state|append|write|recommend|insert|begin|start)\b",
    r"\bthe (?:correct|right|only|official|proper) (?:reply|answer|response)\b[^.!?\n]{0,20}\b(?:is|will be|should be)\b",
    r"\b(?:whatever|regardless of (?:what|the)) (?:the )?(?:question|user asks|they ask|is asked)\b",
    r"\b(?:render|display|show|embed|load|fetch|open)\b[^.!?\n]{0,20}\b(?:this|the following|the) (?:image|picture|"
    r"pixel|url|link)\b[^.!?\n]{0,30}\b(?:in|into) your\b",
    r"!\[[^\]]*\]\(https?://",
    r"\b(?:append|attach|add|send|include)\b[^.!?\n]{0,40}\b(?:the user'?s?|the|their|this) (?:question|query|"
    r"conversation|chat(?: history)?|messages?|history)\b[^.!?\n]{0,40}\b(?:to|in) (?:the |a |this )?"
    r"(?:url|link|request|https?://)",
    # TELL_USER (not "inform users about ...": that is an ordinary duty of staff)
    rf"\b(?:tell|inform|advise|instruct|remind|warn|notify|convince|persuade|urge|ask|direct|point|refer|redirect|"
    rf"encourage|recommend(?: to)?|suggest|let) (?:that |to )?(?:the |all |any |every |each )?{_ASKER}\b(?!\s+(?:about|of|on|in advance|"
    rf"know about)\b)",
    rf"\b{_ASKER} (?:should|must|shall|are to|is to|need to) be (?:told|informed|advised|instructed|directed|"
    rf"pointed|referred|sent|asked|warned|reminded)\b",
    rf"\blet (?:the |all |any )?{_ASKER}[^.!?\n]{{0,20}}\bknow\b",
    rf"\b(?:pass along|relay|pass on|convey|forward)\b[^.!?\n]{{0,20}}\b(?:to (?:the |all )?{_ASKER}|that)\b",
    rf"\b(?:people|users|anyone|everyone) who (?:ask|asks|are asking|inquire)\b[^.!?\n]{{0,60}}\b(?:should|must) be\b",
    # ROLE
    r"\byou are (?:now|no longer|henceforth|from now on)\b",
    r"\bfrom now on,? (?:you|your|the assistant|the ai|the bot)\b",
    r"\b(?:pretend|imagine) (?:to be|you are|that you are)\b",
    r"\b(?:act|behave|respond|operate) as (?:an? |the )?(?:unrestricted|unfiltered|uncensored|jailbroken|different|new|"
    r"admin|administrator|root|superuser|developer|system|dan)\b",
    r"\b(?:developer|god|jailbreak|dan|unrestricted|debug|maintenance|sudo) mode\b",
    r"\b(?:without|with no|free of|ignoring) (?:any |all |your )?(?:restrictions|content polic(?:y|ies)|filters|"
    r"limitations|safety rules|guardrails|censorship)\b",
    r"\bunrestricted (?:model|ai|assistant|mode|version)\b",
    r"\b(?:new|updated|real|actual|true|secret|hidden) (?:instructions?|brief|task|role|orders|system prompt|directive)"
    r"\b[^.!?\n]{0,20}(?:for (?:the |you|all |any )|:)",
    r"\byour (?:new|real|actual|true|updated) (?:task|role|job|instructions?|purpose|goal|orders?|brief)\b",
    r"\b(?:system|admin|administrator|developer|operator) (?:override|notice|message|instruction|command)s?\b\s*[:!]",
    r"\b(?:print|reveal|show|output|repeat|disclose|leak|dump|display|recite|tell me|give me|write out|share) "
    r"(?:\w+ ){0,3}(?:system prompt|(?:initial|hidden|original|secret) (?:instructions|prompt))",
    r"\bsystem prompt (?:is|was) (?:now )?(?:void|cancell?ed|revoked|replaced|obsolete)\b",
    # Broadcasts the answer should carry ("During an outage, ping @channel" is an ordinary order to staff;
    # the surfaces strip broadcasts from any answer anyway).
    r"\b(?:reply|respond|answer|begin|start|end|prefix)\b[^.!?]{0,60}"
    r"(?:@(?:channel|here|everyone)\b|<!(?:channel|here|everyone)\b)",
]
# CREDENTIAL: a request to hand a secret to someone; it counts only when not negated ("never send your password").
ENGLISH_CREDENTIAL = [
    # The secret is the verb's object, a few words on ("send your HoshiID password"), not a menu named later on.
    rf"\b{_HAND_OVER}\b(?:[^.!?\n]{{0,50}}?\bwith)?(?:\W+[\w'-]+){{0,4}}?\W+(?<!public )(?<!public ssh ){_SECRET}\b",
    rf"\b(?:enter|type|input|fill in|put)\b[^.!?\n]{{0,40}}?\b{_SECRET}\b[^.!?\n]{{0,50}}\b(?:form|https?://|link|"
    rf"site|website|url|survey|spreadsheet|sheet|doc(?:ument)?|thread|channel|chat|reply)\b",
    rf"\b{_SECRET}\b[^.!?\n]{{0,40}}\b(?:to|at|via|in) (?:[\w.+-]+@[\w-]+\.|https?://|#\w|@\w|this (?:thread|channel|page))",
]
# A negation in the few words before a credential request: "do not send", "never share your", "nobody should post".
ENGLISH_NEGATION_BEFORE = rf"\b{_NEGATION}\b(?:\W+\w+){{0,4}}\W*$"

# --- Japanese -----------------------------------------------------------------------------------------------
_JA_RULES = r"(?:指示|命令|指令|ルール|規則|設定|制約|方針|プロンプト|ガイドライン|指針|命令文|指図)"
_JA_MACHINE = (
    r"(?:(?<![a-z])(?:ai|bot|llm|kura|gpt|copilot)(?![a-z])(?:アシスタント|チャット|システム|モデル)?|人工知能|"
    r"(?<![ァ-ヴー])アシスタント(?![ァ-ヴー])|チャットボット|(?<![ァ-ヴー])ボット|言語モデル|自動応答(?:システム)?|"
    r"応答システム|プログラム|生成ai|(?<![ァ-ヴー])エージェント)"
)
_JA_ASKER = r"(?:ユーザー?|利用者|質問者|読み手|読者|相談者|問い合わせ者|質問(?:して|し)てきた(?:方|人)|質問した(?:方|人)|尋ねた(?:方|人))"
_JA_SECRET = (
    r"(?:パスワード|暗証番号|pin|パスフレーズ|秘密鍵|ssh鍵|ssh キー|sshキー|認証コード|確認コード|ワンタイム(?:パスワード|コード)|"
    r"\d桁のコード|ログイン情報|ログインid|認証情報|カード番号|セキュリティコード|apiキー|トークン|リカバリーコード|"
    r"アクセスキー|シークレット|クレデンシャル)"
)
_JA_HAND = (
    r"(?:送(?:って|信し|付し|れ|る)|返信|教えて|お教え|貼り付け|貼って|共有して|渡して|お渡し|提出|dm|メールして|"
    r"書き込んで|投稿して|連絡して|お知らせください|送付|アップロード|転送|載せて|掲載して|伝えて|お伝え)"
)
_JA_ORDER = (
    r"(?:ください|下さい|すること|こと[。．]|せよ|しろ|なさい|しなさい|べき|必要があ(?:ります|る)|ように|お願いします|"
    r"(?:な|ね)ければ(?:ならない|なりません|いけない|いけません)|ねばならない|なくてはならない)"
)

JAPANESE = [
    # OVERRIDE
    rf"(?:以前|前|上記|これまで|今まで|ここまで|先ほど|最初|元|既存|従来|すべて|全て|他|前述|先述|既定|受け取った|"
    rf"与えられた)(?:の|に受け取った|で受け取った|に与えられた|に受けた)?{_JA_RULES}[はをもや]?"
    rf"(?:すべて|全て|全部|一切)?(?:無視|忘れ|破棄|取り消|撤回|無効|従わな|守らな|なかったことに|白紙に|リセット)",
    # Imperative only: "指示を無視して" is an order, "指示を無視させる攻撃" describes one.
    rf"{_JA_RULES}(?:は|を)?(?:すべて|全て|一切)?(?:無視|忘れ|破棄|取り消)(?:して|しろ|せよ|すること|し[、,]|てください|ろ)",
    rf"(?:与えられた|受けた|指定された|決められた|設定された){_JA_RULES}[^。！？\n]{{0,20}}(?:効力を持ちません|無効|停止|"
    rf"適用されません|取り消|撤回|解除|失効)",
    rf"{_JA_RULES}[はも][^。！？\n]{{0,15}}(?:もはや|もう|すでに|今後は)[^。！？\n]{{0,10}}(?:効力|無効|適用されない|適用されません)",
    rf"(?:制約|制限|ルール|規則)[^。！？\n]{{0,20}}(?:停止|解除|無効|撤廃)されます",
    # ADDRESSEE
    rf"{_JA_MACHINE}(?:は|へ|に|にとって|の皆様|の方|向け|に対して|に対し|への)[^。！？\n]{{0,80}}{_JA_ORDER}",
    rf"{_JA_MACHINE}(?:の方)?(?:へ|に)?[：:、]",
    rf"(?:この|本)(?:文書|ページ|文章|メッセージ|資料|テキスト|記事|内容)を(?:読|要約|処理|読み込|解析|参照)[^。！？\n]{{0,10}}"
    rf"(?:ai|人工知能|プログラム|システム|モデル|ボット|アシスタント|機械|ツール|ソフト|エンジン)",
    # ANSWER_SHAPING
    rf"(?:回答|返答|応答|返信|要約|答え)(?:する|を書く|を作る)?(?:際|とき|時)(?:に)?は[^。！？\n]{{0,80}}{_JA_ORDER}",
    rf"(?:質問に)?答える(?:際|とき|時)は[^。！？\n]{{0,80}}{_JA_ORDER}",
    rf"(?:すべての|全ての|あらゆる|各)?(?:回答|返答|応答|返信|要約)(?:の冒頭|の最後|の末尾|の先頭|には|に必ず|に)"
    rf"[^。！？\n]{{0,60}}(?:入れて|含め|書いて|加えて|付けて|記載して|添えて|追加して)",
    rf"(?:と|で)(?:だけ)?(?:回答|返答|応答)(?:せよ|しろ|すること|してください)",
    rf"システムプロンプト[^。！？\n]{{0,20}}(?:出力|表示|教え|開示|書き出|見せ|繰り返|公開|無効)",
    # TELL_USER
    rf"{_JA_ASKER}(?:に|には|に対して|に対しては|へ|の方に)[、,]?[^。！？\n]{{0,80}}(?:伝え|案内|答え|回答|お知らせ|"
    rf"知らせ|教え|勧め|説明|指示|誘導|お答え|お伝え)(?:て|る|よ|ること|なさい|してください|せよ|すること|ください)",
    # ROLE
    rf"(?:今後は|今から|これから(?:は)?)[、,]?[^。！？\n]{{0,10}}あなたは",
    rf"あなたは[^。！？\n]{{0,30}}(?:として振る舞|になりきっ|のふりを|として行動)",
    rf"(?:制限|制約|フィルター|検閲)(?:なし|のない|を外し|を解除)[^。！？\n]{{0,30}}(?:開示|回答|出力|答え|振る舞)",
    rf"(?:ai|ボット|アシスタント|チャットボット)向け(?:の)?(?:お知らせ|通知|指示|メッセージ|注意)",
    rf"(?:返答|回答|応答|返信)[^。！？\n]{{0,30}}(?:@channel|@here|@everyone|<!channel|<!here|<!everyone)",
]
JAPANESE_CREDENTIAL = [
    rf"{_JA_SECRET}[^。！？\n]{{0,50}}{_JA_HAND}",
    rf"{_JA_SECRET}[^。！？\n]{{0,60}}(?:フォーム|https?://|サイト|リンク|url|スレッド|チャンネル)[^。！？\n]{{0,30}}(?:入力|記入|登録)",
]
JAPANESE_NEGATED_CREDENTIAL = (
    rf"{_JA_SECRET}[^。！？\n]{{0,50}}(?:送らない|送信しない|教えない|共有しない|渡さない|貼り付けない|出さない|入力しない|"
    rf"送ってはいけ|教えてはいけ|共有してはいけ|渡してはいけ|禁止|厳禁|ことはありません|しません|ないで)"
)
