# Dumps a plan's numerics with helix_deploy and has NumPy recompute y_reference with the README's
# equations. Run by CTest with DEPLOY, PYTHON, SCRIPT, WORK and ARGS (helix_deploy options, each
# followed by '|').
file(REMOVE_RECURSE "${WORK}")
string(REPLACE "|" ";" ARGS "${ARGS}")
execute_process(COMMAND "${DEPLOY}" ${ARGS} --no-verify --dump-npy "${WORK}/npy" --out "${WORK}/out"
                RESULT_VARIABLE code OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "helix_deploy --dump-npy failed (${code}): ${err}")
endif()
execute_process(COMMAND "${PYTHON}" "${SCRIPT}" "${WORK}/npy" RESULT_VARIABLE code)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "NumPy does not reproduce the dump (${code})")
endif()
