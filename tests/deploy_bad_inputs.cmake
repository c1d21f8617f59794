# helix_deploy with bad options: each must exit non-zero with one line on stderr that carries the
# expected words, and never abort. Run by CTest with DEPLOY=<helix_deploy> WORK=<scratch folder>
# HARDWARE=<a good hardware file (tests/support/h100_sxm_nvl8.json)>.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
file(WRITE "${WORK}/a_file" "in the way")
# Broken hardware files, each the good one with one fault, in a folder of their own: WORK must hold
# nothing but a_file at the end.
set(inputs "${WORK}-inputs")
file(REMOVE_RECURSE "${inputs}")
file(READ "${HARDWARE}" good)
string(JSON unknown_key SET "${good}" nvlink speed 1)
string(JSON wrong_type SET "${good}" gpus_per_node "\"8\"")
string(JSON missing_key REMOVE "${good}" memory_capacity_bytes)
string(JSON bad_efficiency SET "${good}" compute_efficiency 1.5)
foreach(name unknown_key wrong_type missing_key bad_efficiency)
  file(WRITE "${inputs}/${name}.json" "${${name}}")
endforeach()
# Measurements files for --validate and --calibrate, in the same folder: a good one of two entries,
# and copies each broken in one key of the second entry (named "entry 2 of 2" by the errors).
set(measurement [=[{"source": "test", "model": "gptj_6b", "hardware": "h100_sxm_nvl8", "dtype": "fp8", "plan": "tp=1", "batch": 1, "input_tokens": 128, "output_tokens": 1, "metric": "ttft_s", "value": 0.007}]=])
set(measurements "{\"measurements\": [${measurement}, ${measurement}]}")
file(WRITE "${inputs}/measurements.json" "${measurements}")
function(broken_measurements name)
  string(JSON text ${ARGN})
  file(WRITE "${inputs}/measurements_${name}.json" "${text}")
endfunction()
broken_measurements(unknown_key SET "${measurements}" measurements 1 speed 1)
broken_measurements(missing_key REMOVE "${measurements}" measurements 1 value)
broken_measurements(metric SET "${measurements}" measurements 1 metric "\"latency\"")
broken_measurements(tpot SET "${measurements}" measurements 1 metric "\"tpot_s\"")
broken_measurements(plan SET "${measurements}" measurements 1 plan "\"tp=3\"")
broken_measurements(plan_text SET "${measurements}" measurements 1 plan "\"tp=\"")
broken_measurements(model SET "${measurements}" measurements 1 model "\"gpt5\"")
broken_measurements(model_file SET "${measurements}" measurements 1 model "\"bad_model.json\"")
broken_measurements(hardware SET "${measurements}" measurements 1 hardware "\"tpu\"")
broken_measurements(value SET "${measurements}" measurements 1 value -1)
broken_measurements(batch SET "${measurements}" measurements 1 batch 0)
broken_measurements(dtype SET "${measurements}" measurements 1 dtype "\"int8\"")
broken_measurements(empty SET "${measurements}" measurements "[]")
file(WRITE "${inputs}/bad_model.json" [=[{"name": "bad", "layers": "2"}]=])
string(REPLACE [=["batch": 1,]=] [=["batch": 1, "batch": 2,]=] twice "${measurements}")
file(WRITE "${inputs}/measurements_twice.json" "${twice}")
file(WRITE "${inputs}/measurements_not_json.json" "{\"measurements\": [")
string(JSON other_hardware SET "${good}" name "\"other_gpu\"")
file(WRITE "${inputs}/other_hardware.json" "${other_hardware}")
set(m "${inputs}/measurements")
# Model files for --model-file, beside WORK (WORK must end with only a_file in it): a good tiny
# model, and copies of it each broken in one key.
set(MODELS "${WORK}_models")
file(REMOVE_RECURSE "${MODELS}")
file(MAKE_DIRECTORY "${MODELS}")
set(tiny [=[{"name": "tiny", "layers": 2, "hidden": 64, "heads": 4, "kv_heads": 2, "head_dim": 16, "ffn_hidden": 256, "mlp": "gelu", "norm": "layernorm"}]=])
file(WRITE "${MODELS}/tiny.json" "${tiny}")
function(broken_model name from to)
  string(REPLACE "${from}" "${to}" text "${tiny}")
  if(text STREQUAL tiny)
    message(FATAL_ERROR "broken_model ${name}: '${from}' is not in the tiny model")
  endif()
  file(WRITE "${MODELS}/${name}.json" "${text}")
endfunction()
broken_model(unknown_key [=["norm": "layernorm"]=] [=["norm": "layernorm", "rope_theta": 10000]=])
broken_model(layers_text [=["layers": 2]=] [=["layers": "2"]=])
broken_model(zero_heads [=["heads": 4]=] [=["heads": 0]=])
broken_model(negative_vocab [=["norm": "layernorm"]=] [=["norm": "layernorm", "vocab": -5]=])
broken_model(no_ffn [=["ffn_hidden": 256, ]=] "")
broken_model(relu [=["gelu"]=] [=["relu"]=])
broken_model(norm_typo [=["layernorm"]=] [=["LayerNorm"]=])
broken_model(dtype_typo [=["norm": "layernorm"]=] [=["norm": "layernorm", "dtype": "int8"]=])
broken_model(parallel_text [=["norm": "layernorm"]=] [=["norm": "layernorm", "parallel_block": "yes"]=])
broken_model(twice [=["layers": 2]=] [=["layers": 2, "layers": 3]=])
broken_model(not_json [=["norm": "layernorm"}]=] [=["norm": "layernorm"]=])
broken_model(kv_heads_3 [=["kv_heads": 2]=] [=["kv_heads": 3]=])
# Valid, but its hidden 66 does not split into 4 slices for scatter-gather pipeline sends.
broken_model(tiny_hidden_66 [=["hidden": 64]=] [=["hidden": 66]=])
set(cases
  "--model|gpt4"                   "unknown --model 'gpt4'"
  "--plan|tp=3"                    "heads vs tensor degree"
  "--plan|pp=0"                    "'pp=0': degree at least one"
  "--plan|tg=4x"                   "'tg=4x': a number is missing"
  "--plan|xx=1"                    "unknown key 'xx'"
  "--plan|pp=2,pp=3"               "descriptor given once"
  "--microbatches|0"               "degree at least one"
  "--microbatches|3"               "batch vs data parallel and microbatches"
  "--microbatches|abc"             "microbatches"
  "--workload|sideways"            "workload"
  "--hardware|tpu"                 "unknown --hardware 'tpu'"
  "--baseline|tp=2"                "--baseline 'tp=2' is not one of the --plan"
  "--out|${WORK}/a_file"           "--out"
  "--out|/proc/helix_cannot_be_here" "--out"
  "--no-such-option"               "no-such-option"
  "--model|llama3_70b|--plan|tp=12" "kv heads vs tensor degree"
  "--microbatches|99999999999999999999" "--microbatches '99999999999999999999'"
  "--plan|tp=16|--plan|tp=16"      "exactly as --plan 'tp=16' does"
  "--plan|tp=4|--plan|tg=1x4"      "--plan 'tg=1x4' partitions helix_seed exactly as --plan 'tp=4'"
  "--plan|pp=2|--plan|pp=2,split=1/1" "exactly as --plan 'pp=2' does"
  "--plan|tg=1000000000000000x1000000000000000" "product of the plan's degrees"
  "--plan|pp=2,hp=16x512,dp=1024"  "DAG size"
  "--json|${WORK}"                 "it is a folder, not a file"
  "--json|/proc/helix_cannot_be_here/x.json" "--json"
  "--dump-npy|${WORK}/a_file"      "--dump-npy"
  "--baseline|tp=3x"               "--baseline"
  "--dump-npy|npy/x|--json|r.json|--out|${WORK}/a_file" "--out"
  "--batch|0"                      "(batch: value = 0, minimum = 1)"
  "--batch|abc"                    "--batch 'abc' is not a whole number"
  "--seq|0"                        "(seq_len: value = 0, minimum = 1)"
  "--input-tokens|99999999999999999999" "--input-tokens '99999999999999999999'"
  "--batch|3|--plan|dp=2"          "batch vs data parallel and microbatches"
  "--json|missing/r.json"          "--json 'missing/r.json': its folder 'missing' does not exist"
  "--output-tokens|0"              "--output-tokens '0' is not a whole number from 1"
  "--output-tokens|many"           "--output-tokens 'many'"
  "--plan|kvp=2,tp=2"               "kv parallel decode only"
  "--workload|decode|--plan|kvp=2,tp=2|--kv-placement|striped" "unknown --kv-placement 'striped'"
  "--workload|decode|--plan|kvp=2,tp=2|--kv-placement|interleaved:0" "unknown --kv-placement 'interleaved:0'"
  "--workload|decode|--objective|e2e" "--objective e2e needs --output-tokens above 1 with --workload decode"
  "--objective|tpot"               "--objective tpot needs --output-tokens above 1"
  "--workload|decode|--objective|ttft" "--objective ttft needs --workload prefill"
  "--objective|fastest"            "objective"
  "--views|some"                   "views"
  "--output-tokens|999999999999999|--plan|tp=16" "--output-tokens 999999999999999: the last decode step"
  "--dtype|fp33"                   "unknown --dtype 'fp33'"
  "--kv-dtype|int8"                "unknown --kv-dtype 'int8'"
  "--attention|fast"               "unknown --attention 'fast'"
  "--pipeline-send|scatter"        "unknown --pipeline-send 'scatter'"
  "--pipeline-send|Full"           "known: scatter_gather, full"
  "--plan|pp=2,tp=4|--model-file|${MODELS}/tiny_hidden_66.json" "hidden vs pipeline slices"
  "--hardware|h100_sxm_nvl8|--hardware-file|${HARDWARE}" "--hardware excludes --hardware-file"
  "--hardware-file|${WORK}/missing.json" "hardware file '${WORK}/missing.json': cannot open it"
  "--hardware-file|${WORK}/a_file" "hardware file '${WORK}/a_file': not JSON"
  "--hardware-file|${WORK}"        "it is a folder, not a file"
  "--hardware-file|${inputs}/unknown_key.json" "unknown_key.json': unknown key 'nvlink.speed'"
  "--hardware-file|${inputs}/wrong_type.json" "key 'gpus_per_node' must be a whole number from 1, got string \"8\""
  "--hardware-file|${inputs}/missing_key.json" "missing key 'memory_capacity_bytes'"
  "--model-file|${MODELS}/missing.json" "--model-file '${MODELS}/missing.json': no such file"
  "--model-file|${MODELS}"         "--model-file '${MODELS}': it is a folder, not a file"
  "--model-file|${MODELS}/unknown_key.json" "unknown_key.json': unknown key 'rope_theta' = 10000"
  "--model-file|${MODELS}/layers_text.json" "layers_text.json': key 'layers' = \"2\": expected a whole number from 1"
  "--model-file|${MODELS}/zero_heads.json" "key 'heads' = 0: expected a whole number from 1"
  "--model-file|${MODELS}/negative_vocab.json" "key 'vocab' = -5: expected a whole number from 0"
  "--model-file|${MODELS}/no_ffn.json" "no_ffn.json': missing required key 'ffn_hidden'"
  "--model-file|${MODELS}/relu.json" "key 'mlp' = \"relu\": expected \"gelu\" or \"swiglu\""
  "--model-file|${MODELS}/norm_typo.json" "key 'norm' = \"LayerNorm\""
  "--model-file|${MODELS}/dtype_typo.json" "key 'dtype' = \"int8\""
  "--model-file|${MODELS}/parallel_text.json" "key 'parallel_block' = \"yes\": expected true or false"
  "--model-file|${MODELS}/twice.json" "key 'layers' given twice"
  "--model-file|${MODELS}/not_json.json" "not_json.json': not valid JSON"
  "--model-file|${MODELS}/kv_heads_3.json|--plan|tp=2" "is invalid for tiny: helix: heads vs kv heads"
  "--model-file|${MODELS}/tiny.json|--plan|tp=3" "--plan 'tp=3' is invalid for tiny"
  "--model-file|${MODELS}/tiny.json|--model|gpt3_175b" "--model excludes --model-file"
  "--dump-expected|dump"           "--dump-expected writes one plan's tensors, and 2 plans are given (the seed's two, by default)"
  "--plan|tp=4|--dump-expected|dump|--dump-model|full" "would take 118 TB (136 tensors on 4 devices"
  "--plan|tp=4|--dump-expected|dump|--dump-limit|1" "more than the limit of 1 MB (--dump-limit 1)"
  "--plan|tp=4|--dump-expected|dump|--dump-limit|0" "--dump-limit '0' is not a whole number of megabytes"
  "--plan|tp=4|--dump-expected|dump|--dump-model|half" "dump-model"
  "--plan|tp=4|--dump-expected|${WORK}/a_file" "--dump-expected '${WORK}/a_file'"
  "--validate|${m}_missing.json"   "measurements file '${m}_missing.json': no such file"
  "--validate|${inputs}"           "measurements file '${inputs}': it is a folder, not a file"
  "--validate|${m}_not_json.json"  "measurements_not_json.json': not valid JSON"
  "--validate|${m}_unknown_key.json" "entry 2 of 2: unknown key 'speed' = 1"
  "--validate|${m}_missing_key.json" "entry 2 of 2: missing required key 'value'"
  "--validate|${m}_metric.json"    "entry 2 of 2: key 'metric' = \"latency\": expected one of ttft_s, tpot_s"
  "--validate|${m}_tpot.json"      "entry 2 of 2: key 'metric' = \"tpot_s\": tpot_s needs output_tokens of 2 or more"
  "--validate|${m}_plan.json"      "entry 2 of 2: key 'plan' = \"tp=3\": invalid for gptj_6b: helix: heads vs tensor degree"
  "--validate|${m}_plan_text.json" "entry 2 of 2: key 'plan' = \"tp=\": helix: plan text"
  "--validate|${m}_model.json"     "entry 2 of 2: key 'model' = \"gpt5\": neither a preset"
  "--validate|${m}_model_file.json" "entry 2 of 2: key 'model' = \"bad_model.json\": model file '${inputs}/bad_model.json': missing required key 'hidden'"
  "--validate|${m}_hardware.json"  "entry 2 of 2: key 'hardware' = \"tpu\": neither a preset"
  "--validate|${m}_value.json"     "entry 2 of 2: key 'value' = -1: expected a number above 0"
  "--validate|${m}_batch.json"     "entry 2 of 2: key 'batch' = 0: expected a whole number from 1"
  "--validate|${m}_dtype.json"     "entry 2 of 2: key 'dtype' = \"int8\""
  "--validate|${m}_empty.json"     "expected a list of at least one measurement"
  "--validate|${m}_twice.json"     "entry 1: key 'batch' given twice"
  "--validate|${m}.json|--plan|tp=2" "--plan excludes --validate"
  "--validate|${m}.json|--hardware|h100_sxm_nvl8" "--hardware excludes --validate"
  "--validate|${m}.json|--calibrate|${m}.json" "--validate excludes --calibrate"
  "--validate|${m}.json|--json|${WORK}" "--json '${WORK}': it is a folder, not a file"
  "--validate|${m}.json|--hardware-file|${inputs}/other_hardware.json" "describes 'other_gpu', and no measurement in"
  "--hardware-out|fitted.json"     "--hardware-out requires --calibrate"
  "--calibrate|${m}.json|--hardware|gb200_nvl72" "no measurement in ${m}.json was taken on 'gb200_nvl72'"
  "--calibrate|${m}.json|--hardware|tpu" "unknown --hardware 'tpu'"
  "--calibrate|${m}.json|--hardware-out|missing/fitted.json" "--hardware-out 'missing/fitted.json': its folder 'missing' does not exist"
  "--calibrate|${m}_batch.json"    "--calibrate: measurements file '${m}_batch.json': entry 2 of 2: key 'batch'"
  "--calibrate|${m}.json|--hardware|h100_sxm_nvl8|--fit|speed" "unknown --fit parameter 'speed'"
  "--fit|compute_efficiency"       "--fit requires --calibrate"
  "--collectives|mesh"             "--collectives: mesh not in {nccl,ring}"
  "--search|0"                     "--search '0' is not a whole number of GPUs from 1"
  "--search|many"                  "--search 'many' is not a whole number of GPUs"
  "--frontier|8"                   "--frontier needs a decode step (--workload decode) or a generation"
  "--frontier|8|--workload|decode" "--frontier needs --batch-sizes"
  "--frontier|8|--workload|decode|--batch-sizes|1,x" "--batch-sizes: 'x' is not a whole number"
  "--frontier|8|--workload|decode|--batch-sizes|0" "--batch-sizes: '0' is not a whole number from 1"
  "--batch-sizes|1,2"              "--batch-sizes requires --frontier"
  "--search|16|--frontier|16"      "--search excludes --frontier"
  "--search|8|--plan|tp=16"        "--plan 'tp=16' has 16 GPUs and --search 8 searches plans of 8"
  "--search|16|--plan|tp="         "--plan: helix: plan text"
  "--search|16|--plan|tp=3"        "--plan 'tp=3' has 3 GPUs"
  "--search-memory|ignore"         "--search-memory needs --search or --frontier"
  "--search|16|--search-memory|maybe" "unknown --search-memory 'maybe'"
  "--search|16|--json|r.json"      "--json excludes --search"
  "--frontier|16|--dump-npy|npy"   "--dump-npy excludes --frontier"
  # Last: its "]" would make CMake join the elements after it when splitting the list.
  "--hardware-file|${inputs}/bad_efficiency.json" "key 'compute_efficiency' must be a number in (0, 1], got number 1.5"
)
list(LENGTH cases n)
math(EXPR last "${n} - 1")
set(failures 0)
foreach(i RANGE 0 ${last} 2)
  math(EXPR j "${i} + 1")
  list(GET cases ${i} arguments)
  list(GET cases ${j} words)
  string(REPLACE "|" ";" arguments "${arguments}")
  execute_process(COMMAND "${DEPLOY}" ${arguments} --no-verify
                  WORKING_DIRECTORY "${WORK}" RESULT_VARIABLE code ERROR_VARIABLE err OUTPUT_QUIET)
  string(STRIP "${err}" err)
  string(FIND "${err}" "${words}" at)
  string(REGEX MATCHALL "\n" newlines "${err}")
  list(LENGTH newlines extra_lines)
  if(code EQUAL 0 OR at EQUAL -1 OR extra_lines GREATER 0 OR err MATCHES "terminate|Aborted|Segmentation")
    message(SEND_ERROR "helix_deploy ${arguments}: exit ${code}, stderr '${err}', expected one line with '${words}'")
    math(EXPR failures "${failures} + 1")
  endif()
endforeach()
# Every bad path is found before the first file is written: nothing but the file in the way.
file(GLOB left RELATIVE "${WORK}" "${WORK}/*" "${WORK}/.*")
if(NOT left STREQUAL "a_file")
  message(SEND_ERROR "bad inputs left files behind: ${left}")
endif()
file(READ "${WORK}/a_file" kept)
if(NOT kept STREQUAL "in the way")
  message(SEND_ERROR "the file in the way of --out was changed")
endif()
file(REMOVE_RECURSE "${inputs}")
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} bad input(s) not answered as expected")
endif()
