"""Every language, every verdict, in the real sandbox (stdin "3 4", expected "7")."""
from __future__ import annotations

import dataclasses

import pytest

from domain.sandbox.jail import SandboxUnavailable
from domain.sandbox.judge import CaseSpec, evaluate
from domain.sandbox.languages import LANGUAGES, Language

PROGRAMS = {
    "python": {
        "AC": "a, b = map(int, input().split())\nprint(a + b)\n",
        "WA": "print(8)\n",
        "RE": "raise SystemExit(3)\n",
        "TLE": "while True:\n    pass\n",
        "MLE": "a = []\nwhile True:\n    a.append(bytearray(1 << 20))\n",
        "OLE": "while True:\n    print('y' * 1000)\n",
    },
    "javascript": {
        "AC": "const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\\s+/).map(Number);\n"
              "console.log(a + b);\n",
        "WA": "console.log(8);\n",
        "RE": "null.x;\n",
        "TLE": "for (;;) {}\n",
        "MLE": "const a = []; for (;;) { a.push(new Array(1 << 16).fill(1.5)); }\n",
        # synchronous writes: process.stdout.write in a loop that never yields only queues in memory (MLE)
        "OLE": "const fs = require('fs'); const s = 'y'.repeat(1000) + '\\n'; for (;;) { fs.writeSync(1, s); }\n",
    },
    "c": {
        "AC": "#include <stdio.h>\nint main(){int a,b; scanf(\"%d %d\",&a,&b); printf(\"%d\\n\",a+b); return 0;}\n",
        "WA": "#include <stdio.h>\nint main(){puts(\"8\"); return 0;}\n",
        "RE": "int main(){volatile int *p = 0; *p = 1; return 0;}\n",
        "TLE": "int main(){volatile unsigned long i=0; for(;;) i++;}\n",
        "MLE": "#include <stdlib.h>\n#include <string.h>\nint main(){for(;;){char*p=malloc(1<<20);"
               " if(!p) return 3; memset(p,1,1<<20);}}\n",
        "OLE": "#include <stdio.h>\nint main(){for(;;) puts(\"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\");}\n",
    },
    "cpp": {
        "AC": "#include <iostream>\nint main(){long a,b; std::cin>>a>>b; std::cout<<a+b<<\"\\n\";}\n",
        "WA": "#include <iostream>\nint main(){std::cout<<8<<\"\\n\";}\n",
        "RE": "#include <stdexcept>\nint main(){throw std::runtime_error(\"boom\");}\n",
        "TLE": "int main(){volatile unsigned long i=0; for(;;) i++;}\n",
        "MLE": "#include <vector>\nint main(){std::vector<std::vector<char>> v; for(;;) v.emplace_back(1<<20, 1);}\n",
        "OLE": "#include <iostream>\nint main(){for(;;) std::cout<<\"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\\n\";}\n",
    },
}

CASES = [(lang, verdict) for lang, programs in PROGRAMS.items() for verdict in programs]


@pytest.mark.parametrize("language,verdict", CASES, ids=[f"{lang}-{v}" for lang, v in CASES])
def test_verdict(judge, language, verdict):
    result = judge(PROGRAMS[language][verdict], language=language, stdin="3 4\n", expected="7\n",
                   time_limit_ms=300 if verdict == "TLE" else 3000, memory_limit_mb=64)
    assert result.verdict == verdict, (result.cases[0], result.feedback)
    assert result.score == (100 if verdict == "AC" else 0)


@pytest.mark.parametrize("language", ["c", "cpp"])
def test_compilation_error_shows_the_compiler_message(judge, language):
    result = judge("int main( { return 0; }\n", language=language, expected="7\n")
    assert result.verdict == "CE" and result.score == 0
    assert "error" in result.compile_output and f"main.{language}" in result.compile_output


def test_runtime_error_names_the_signal(judge):
    result = judge(PROGRAMS["c"]["RE"], language="c", expected="7\n")
    assert result.cases[0].detail.startswith("killed by SIGSEGV")


def test_a_missing_runtime_is_an_internal_error_not_the_learners_fault(judge, monkeypatch):
    # Given a language whose interpreter is not installed on this worker
    monkeypatch.setitem(LANGUAGES, "ghost", Language(name="ghost", title="Ghost", source="main.gh",
                                                     run=lambda mb: ["/usr/bin/ghost-interpreter", "/box/main.gh"]))
    result = judge("anything", language="ghost", expected="7\n")
    # Then the case gets Internal Error, with the reason, and the sandbox goes on working
    assert result.verdict == "IE"
    assert "could not start the program" in result.cases[0].detail
    assert judge(PROGRAMS["python"]["AC"], stdin="3 4\n", expected="7\n").verdict == "AC"


def test_a_sandbox_that_cannot_start_is_reported_not_graded(judge_config):
    # bwrap replaced by a binary that fails before starting anything: the job retries later
    broken = dataclasses.replace(judge_config, bwrap="false")
    with pytest.raises(SandboxUnavailable):
        evaluate("python", "print(1)", [CaseSpec("", "1\n")], time_limit_ms=1000, memory_limit_mb=64, config=broken)
