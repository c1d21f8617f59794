# Fails unless README.md contains EXAMPLE verbatim inside a fenced block of language FENCE
# (default cpp): the C++ usage example, the example model file.
if(NOT DEFINED FENCE)
  set(FENCE cpp)
endif()
file(READ "${README}" readme)
file(READ "${EXAMPLE}" example)
string(FIND "${readme}" "```${FENCE}\n${example}```" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README.md does not contain ${EXAMPLE} verbatim in a ```${FENCE} block")
endif()
