# nrmbus: the two commands of the README, and the steps under them.
#   make demo   install what is missing, build, run the demo
#   make test   install what is missing, build, run every test (ctest), then
#               the whole suite again built with AddressSanitizer+UBSan, then
#               every fuzz target for 500,000 inputs from a fixed seed
#               with libFuzzer (clang): a reproducible gate
#   make fuzz   every fuzz target for FUZZ_SECONDS each (default 300)
#   make soak   the long crash run of tests/crash (docs/reliability.md)
#   make tsan   the suite built with ThreadSanitizer
BUILD    ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
TSAN_BUILD ?= build-tsan
FUZZ_SHORT ?= 60
FUZZ_SHORT_RUNS ?= 500000
FUZZ_SHORT_SEED ?= 1381
FUZZ_SECONDS ?= 300
JOBS     ?= 2
CMAKEOPT ?=

DEB_PACKAGES = build-essential cmake pkg-config libzmq3-dev libprotobuf-c-dev \
  protobuf-c-compiler liblmdb-dev lmdb-utils libsodium-dev libjansson-dev \
  libinih-dev libmicrohttpd-dev python3 python3-yaml procps curl clang

# gnuplot draws the latency plot of `make bench`; the peers of `make
# bench-peers` (servers and their C client libraries) are installed only for
# that target, with their services kept from starting (tools/install-deps.sh).
BENCH_PACKAGES = gnuplot-nox
PEER_PACKAGES  = rabbitmq-server nats-server librabbitmq-dev libnats-dev
BENCH_OUT ?= $(BUILD)/bench-results
BENCH_ARGS ?=

.PHONY: all deps build demo test bench bench-peers clean fuzz fuzz-build fuzz-short tsan soak

all: build

deps:
	@./tools/install-deps.sh $(DEB_PACKAGES)

build: deps
	cmake -S . -B $(BUILD) $(CMAKEOPT)
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	./tools/demo.sh $(BUILD)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300
	cmake -S . -B $(ASAN_BUILD) -DNRM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKEOPT)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 300
	$(MAKE) --no-print-directory fuzz-short

# libFuzzer builds need clang; only the fuzz targets are built there.
fuzz-build: deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DNRM_FUZZ=ON $(CMAKEOPT)
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target nrm_fuzz_all

fuzz-short: fuzz-build
	cd $(FUZZ_BUILD) && NRM_FUZZ_SECONDS=$(FUZZ_SHORT) NRM_FUZZ_RUNS=$(FUZZ_SHORT_RUNS) NRM_FUZZ_SEED=$(FUZZ_SHORT_SEED) \
	  ctest -R '^fuzz_run_' --output-on-failure -j $(JOBS)

fuzz: fuzz-build
	cd $(FUZZ_BUILD) && NRM_FUZZ_SECONDS=$(FUZZ_SECONDS) \
	  ctest -R '^fuzz_run_' --output-on-failure -j $(JOBS) --timeout $$(( $(FUZZ_SECONDS) + 300 ))

tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DNRM_TSAN=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKEOPT)
	cmake --build $(TSAN_BUILD) -j $(JOBS)
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp \
	  ctest --output-on-failure -j $(JOBS) --timeout 600

# The long crash run: 100,000 messages, 50 SIGKILLs of the broker and 50 of
# agents, one broker outage of two minutes. SOAK_SEED=N reruns a schedule.
SOAK_MESSAGES ?= 100000
SOAK_KILLS ?= 50
SOAK_OUTAGE ?= 120
soak: build
	python3 tests/crash/crash_harness.py --build $(BUILD) --messages $(SOAK_MESSAGES) \
	  --broker-kills $(SOAK_KILLS) --agent-kills $(SOAK_KILLS) --outage $(SOAK_OUTAGE) \
	  --drain-timeout 3600 $(if $(SOAK_SEED),--seed $(SOAK_SEED))

# The real benchmark runs (never part of `make test`): see docs/performance.md.
bench: build
	@./tools/install-deps.sh $(BENCH_PACKAGES)
	./$(BUILD)/tools/nrm-bench --out $(BENCH_OUT) $(BENCH_ARGS)

# Installs RabbitMQ, NATS and their C clients, builds nrm-bench-peer, and runs
# nrmbus and each peer alternately (tools/bench-peers.sh; knobs there).
bench-peers: build
	@./tools/install-deps.sh $(BENCH_PACKAGES) $(PEER_PACKAGES)
	cmake -S . -B $(BUILD) $(CMAKEOPT)
	cmake --build $(BUILD) -j $(JOBS)
	./tools/bench-peers.sh $(BUILD) $(BUILD)/bench-peers

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)
