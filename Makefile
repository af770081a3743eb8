# nrmbus: the two commands of the README, and the steps under them.
#   make demo   install what is missing, build, run the demo
#   make test   install what is missing, build, run every test (ctest), then
#               the whole suite again built with AddressSanitizer+UBSan
BUILD    ?= build
ASAN_BUILD ?= build-asan
JOBS     ?= 2
CMAKEOPT ?=

DEB_PACKAGES = build-essential cmake pkg-config libzmq3-dev libprotobuf-c-dev \
  protobuf-c-compiler liblmdb-dev lmdb-utils libsodium-dev libjansson-dev \
  libinih-dev libmicrohttpd-dev python3 python3-yaml procps curl

# gnuplot draws the latency plot of `make bench`; the peers of `make
# bench-peers` (servers and their C client libraries) are installed only for
# that target, with their services kept from starting (tools/install-deps.sh).
BENCH_PACKAGES = gnuplot-nox
PEER_PACKAGES  = rabbitmq-server nats-server librabbitmq-dev libnats-dev
BENCH_OUT ?= $(BUILD)/bench-results
BENCH_ARGS ?=

.PHONY: all deps build demo test bench bench-peers clean

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
	rm -rf $(BUILD) $(ASAN_BUILD)
