// Tensor-core FP16 implicit-GEMM convolution: M = output pixels of a phase (batch * gridH * gridW), N = cout,
// K = kh * kw * cin. mma.sync m16n8k16 (FP32 accumulation) fed by ldmatrix from a swizzled shared-memory ring of
// STAGES k-slices of 32 channels; 'direct' inputs stream in with cp.async, max-pooled inputs go through registers
// (four 16-byte loads, a half2 max, one shared store) so the pool never touches device memory. Epilogue: bias,
// ReLU, fp16, written at (upsample * oy + phaseY, upsample * ox + phaseX) into a channel slice of the output buffer.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <tuple>
#include <string>

#include "../engine/cuda_check.h"
#include "kernels.h"

namespace smlmrt {
namespace {

// Byte offset of 16-byte chunk `chunk` of row `row` in a [rows][BK halves] tile (BK = 32: 64-byte rows of 4 chunks;
// BK = 64: 128-byte rows of 8 chunks). The XOR spreads the 8 rows that one ldmatrix phase reads over all 8 16-byte
// bank groups (without it, 64-byte rows r and r+2 collide, 128-byte rows all do).
template <int BK>
__device__ __forceinline__ uint32_t swizzled(int row, int chunk) {
  if constexpr (BK == 32) {
    return static_cast<uint32_t>(row * 64 + ((chunk ^ ((row >> 1) & 3)) << 4));
  } else {
    static_assert(BK == 64, "k-slices of 32 or 64 halves");
    return static_cast<uint32_t>(row * 128 + ((chunk ^ (row & 7)) << 4));
  }
}

// The tensor-core kernels need sm_80 (cp.async, ldmatrix, mma.m16n8k16): in the sm_75 device pass their bodies are a
// __trap() stub (the host never selects them there, see convTcSupports), so the helpers and tile constants that only
// those bodies use are left out of that pass instead of being compiled unreferenced (nvcc warning #177).
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
#define SMLMRT_TC_DEVICE_CODE 1
#else
#define SMLMRT_TC_DEVICE_CODE 0
#endif

#if SMLMRT_TC_DEVICE_CODE
__device__ __forceinline__ uint32_t smemAddress(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void cpAsync16(uint32_t dst, const void* src, bool valid) {
  const int size = valid ? 16 : 0;  // 0: nothing is read, the 16 bytes are zero-filled
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(size));
}
// Activations go through L1 (.ca): neighbouring taps of one block re-read mostly the same pixels.
__device__ __forceinline__ void cpAsync16L1(uint32_t dst, const void* src, bool valid) {
  const int size = valid ? 16 : 0;
  asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(size));
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrixX4(uint32_t addr, uint32_t& r0, uint32_t& r1, uint32_t& r2, uint32_t& r3) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
               : "r"(addr));
}

__device__ __forceinline__ void mma16816(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint4 max4(uint4 a, uint4 b, uint4 c, uint4 d) {
  uint4 r;
  const __half2* pa = reinterpret_cast<const __half2*>(&a);
  const __half2* pb = reinterpret_cast<const __half2*>(&b);
  const __half2* pc = reinterpret_cast<const __half2*>(&c);
  const __half2* pd = reinterpret_cast<const __half2*>(&d);
  __half2* pr = reinterpret_cast<__half2*>(&r);
#pragma unroll
  for (int i = 0; i < 4; ++i) pr[i] = __hmax2(__hmax2(pa[i], pb[i]), __hmax2(pc[i], pd[i]));
  return r;
}

__device__ __forceinline__ uint4 ldgNc(const __half* p) { return __ldg(reinterpret_cast<const uint4*>(p)); }
#endif  // SMLMRT_TC_DEVICE_CODE

// The output tile a block computes. Blocks enumerate (M tile, phase, N tile), N fastest, so that the blocks reading
// the same input patch run together; an M tile is a TH x TW patch of one frame's output grid for that phase.
struct BlockTile {
  int phaseIndex;
  int frame;
  int tileY0, tileX0;
  int nBase;
};

template <int TH, int TW, int BN>
__device__ __forceinline__ BlockTile blockTile(const ConvArgs& args) {
  const int nTiles = (args.cout + BN - 1) / BN;
  int linear = blockIdx.x;
  const int nTile = linear % nTiles;
  linear /= nTiles;
  BlockTile t;
  t.phaseIndex = linear % args.phaseCount;
  const int mTile = linear / args.phaseCount;
  const int tilesX = (args.gridW + TW - 1) / TW;
  const int tilesPerFrame = tilesX * ((args.gridH + TH - 1) / TH);
  t.frame = mTile / tilesPerFrame;
  const int tileInFrame = mTile - t.frame * tilesPerFrame;
  t.tileY0 = (tileInFrame / tilesX) * TH;
  t.tileX0 = (tileInFrame % tilesX) * TW;
  t.nBase = nTile * BN;
  return t;
}

template <int BM, int BN, int BK, int WM, int WN, int STAGES>
struct TcConfig {
  static constexpr int kWarpsM = BM / WM, kWarpsN = BN / WN;
  static constexpr int kThreads = kWarpsM * kWarpsN * 32;
  static constexpr int kChunksPerRow = BK / 8;
  static constexpr int kChunksA = BM * kChunksPerRow;
#if SMLMRT_TC_DEVICE_CODE  // used only by convTcKernel's body
  static constexpr int kTilesM = WM / 16, kTilesN = WN / 8;
  static constexpr int kChunksB = BN * kChunksPerRow;
  static constexpr int kLoadsA = (kChunksA + kThreads - 1) / kThreads;
  static constexpr int kLoadsB = (kChunksB + kThreads - 1) / kThreads;
  static constexpr int kRowsPerPass = kThreads / kChunksPerRow;
#endif
  static constexpr int kStageBytesA = BM * BK * 2, kStageBytesB = BN * BK * 2;
  static constexpr int kSmemBytes = STAGES * (kStageBytesA + kStageBytesB);
  // The block's BM output pixels are a kTileH x kTileW patch of one frame (2-D, so that the 3x3 / 2x2 taps of
  // neighbouring rows hit the same input pixels in L1 instead of each tap re-reading its own row from L2).
  static constexpr int kTileW = BM >= 128 ? 16 : 8;
  static constexpr int kTileH = BM / kTileW;
  static_assert(kThreads % kChunksPerRow == 0 && kChunksA % kThreads == 0, "each thread loads whole A chunks of one column");
  static_assert(WN % 16 == 0 && WM % 16 == 0, "warp tiles are made of 16x16 ldmatrix blocks");
  static_assert(STAGES >= 2, "a pipeline needs two stages");
};

// Bias, ReLU and the store of a warp's WM x WN accumulator tile: fp16 into the output view at the phase's pixels, or
// (fused head) one FP32 map value per pixel.
template <int TM, int TN, int WM, int WN, int TW>
__device__ __forceinline__ void storeEpilogue(const ConvArgs& args, const ConvPhaseArgs& ph, float (&acc)[TM][TN][4],
                                              int frame, int tileY0, int tileX0, int warpM, int warpN, int nBase,
                                              int lane) {
  // ---- Epilogue: bias, ReLU, fp16, scattered to the phase's output pixels in the view's channel slice. ----
  float biasReg[TN][2];
#pragma unroll
  for (int j = 0; j < TN; ++j) {
    const int co = nBase + warpN * WN + j * 8 + (lane & 3) * 2;
    biasReg[j][0] = co < args.cout ? __ldg(args.bias + co) : 0.f;
    biasReg[j][1] = co + 1 < args.cout ? __ldg(args.bias + co + 1) : 0.f;
  }
  if (args.headWeights) {
    // Fused s = 1 head: this warp holds all cout columns of its rows (checked by the launcher); each row's dot
    // product is split over the 4 lanes that share it and reduced with two shuffles.
    float hw[TN][2];
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int co = warpN * WN + j * 8 + (lane & 3) * 2;
      hw[j][0] = co < args.cout ? __ldg(args.headWeights + co) : 0.f;
      hw[j][1] = co + 1 < args.cout ? __ldg(args.headWeights + co + 1) : 0.f;
    }
#pragma unroll
    for (int i = 0; i < TM; ++i) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float dot = 0.f;
#pragma unroll
        for (int j = 0; j < TN; ++j) {
          float v0 = acc[i][j][h * 2 + 0] + biasReg[j][0];
          float v1 = acc[i][j][h * 2 + 1] + biasReg[j][1];
          if (args.relu) {
            v0 = fmaxf(v0, 0.f);
            v1 = fmaxf(v1, 0.f);
          }
          dot = fmaf(v0, hw[j][0], fmaf(v1, hw[j][1], dot));
        }
        dot += __shfl_xor_sync(0xffffffffu, dot, 1);
        dot += __shfl_xor_sync(0xffffffffu, dot, 2);
        const int r = warpM * WM + i * 16 + h * 8 + (lane >> 2);
        const int oy = tileY0 + r / TW, ox = tileX0 + r % TW;
        if (oy < args.gridH && ox < args.gridW && (lane & 3) == 0) {
          const int Y = oy * args.upsample + ph.phaseY, X = ox * args.upsample + ph.phaseX;
          args.headMaps[(static_cast<long long>(frame) * args.outH + Y) * args.outW + X] = dot + args.headBias;
        }
      }
    }
    return;
  }
#pragma unroll
  for (int i = 0; i < TM; ++i) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int r = warpM * WM + i * 16 + h * 8 + (lane >> 2);
      const int oy = tileY0 + r / TW, ox = tileX0 + r % TW;
      if (oy >= args.gridH || ox >= args.gridW) continue;
      const int Y = oy * args.upsample + ph.phaseY, X = ox * args.upsample + ph.phaseX;
      __half* dst = args.out + ((static_cast<long long>(frame) * args.outH + Y) * args.outW + X) * args.outC + args.outOff;
#pragma unroll
      for (int j = 0; j < TN; ++j) {
        const int co = nBase + warpN * WN + j * 8 + (lane & 3) * 2;
        if (co >= args.cout) continue;  // cout is a multiple of 8 on this path: co + 1 is valid too
        float v0 = acc[i][j][h * 2 + 0] + biasReg[j][0];
        float v1 = acc[i][j][h * 2 + 1] + biasReg[j][1];
        if (args.relu) {
          v0 = fmaxf(v0, 0.f);
          v1 = fmaxf(v1, 0.f);
        }
        *reinterpret_cast<__half2*>(dst + co) = __floats2half2_rn(v0, v1);
      }
    }
  }
}


template <int BM, int BN, int BK, int WM, int WN, int STAGES, bool POOL>
__global__ void __launch_bounds__(TcConfig<BM, BN, BK, WM, WN, STAGES>::kThreads)
    convTcKernel(const ConvArgs args) {
  using Cfg = TcConfig<BM, BN, BK, WM, WN, STAGES>;
#if !SMLMRT_TC_DEVICE_CODE
  __trap();  // cp.async and mma.m16n8k16 need sm_80; the host never selects this path there (convTcSupports)
#else

  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t sBase = smemAddress(smem);
  const uint32_t sA = sBase, sB = sBase + STAGES * Cfg::kStageBytesA;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int warpM = warp / Cfg::kWarpsN, warpN = warp % Cfg::kWarpsN;

  const BlockTile tile = blockTile<Cfg::kTileH, Cfg::kTileW, BN>(args);
  const int frame = tile.frame, tileY0 = tile.tileY0, tileX0 = tile.tileX0, nBase = tile.nBase;
  const ConvPhaseArgs ph = args.phases[tile.phaseIndex];

  const int cin = args.cin;
  const int K = ph.kh * ph.kw * cin;
  const int kTiles = (K + BK - 1) / BK;

  // ---- A rows this thread loads: fixed across the k loop; so is its chunk column (threads % chunks-per-row == 0). ----
  const int aChunk = tid % Cfg::kChunksPerRow;
  const int aRow0 = tid / Cfg::kChunksPerRow;
  int aOy[Cfg::kLoadsA], aOx[Cfg::kLoadsA];
  const __half* aPixel[Cfg::kLoadsA];  // input pixel (n, oy, ox) at the view's first channel (stored coordinates)
  const int inStrideRow = args.inW * args.inC;
#pragma unroll
  for (int i = 0; i < Cfg::kLoadsA; ++i) {
    const int r = aRow0 + i * Cfg::kRowsPerPass;
    const int oy = tileY0 + r / Cfg::kTileW, ox = tileX0 + r % Cfg::kTileW;
    if (oy < args.gridH && ox < args.gridW) {
      aOy[i] = oy;
      aOx[i] = ox;
      const int sy = POOL ? 2 * oy : oy, sx = POOL ? 2 * ox : ox;
      aPixel[i] = args.in + (static_cast<long long>(frame) * args.inH + sy) * inStrideRow +
                  static_cast<long long>(sx) * args.inC + args.inOff;
    } else {
      aOy[i] = -(1 << 28);  // fails every bounds test below
      aOx[i] = 0;
      aPixel[i] = args.in;
    }
  }

  // Tap (ky, kx) and channel of this thread's chunk in the next k-slice to load. Slices are loaded strictly in order,
  // so the position advances incrementally (no divisions in the main loop).
  int nextK = aChunk * 8, nextCi, nextKx, nextKy;
  {
    const int tap = nextK / cin;
    nextCi = nextK - tap * cin;
    nextKy = tap / ph.kw;
    nextKx = tap - nextKy * ph.kw;
  }
  auto tapOf = [&](int& dy, int& dx, int& ci, bool& kValid) {
    kValid = nextK < K;
    dy = nextKy - ph.padTop;
    dx = nextKx - ph.padLeft;
    ci = nextCi;
    nextK += BK;
    nextCi += BK;
    while (nextCi >= cin) {
      nextCi -= cin;
      if (++nextKx == ph.kw) {
        nextKx = 0;
        ++nextKy;
      }
    }
  };

  auto loadBAsync = [&](int kt, int stage) {
#pragma unroll
    for (int i = 0; i < Cfg::kLoadsB; ++i) {
      const int c = tid + i * Cfg::kThreads;
      if (Cfg::kChunksB % Cfg::kThreads == 0 || c < Cfg::kChunksB) {
        const int row = c / Cfg::kChunksPerRow, chunk = c % Cfg::kChunksPerRow;
        const int co = nBase + row, k = kt * BK + chunk * 8;
        const bool valid = co < args.cout && k < K;
        const __half* src = valid ? ph.weights + static_cast<long long>(co) * K + k : ph.weights;
        cpAsync16(sB + stage * Cfg::kStageBytesB + swizzled<BK>(row, chunk), src, valid);
      }
    }
  };

  auto loadADirectAsync = [&](int stage) {
    int dy, dx, ci;
    bool kValid;
    tapOf(dy, dx, ci, kValid);
    const int offset = (dy * args.inW + dx) * args.inC + ci;
#pragma unroll
    for (int i = 0; i < Cfg::kLoadsA; ++i) {
      const int row = aRow0 + i * Cfg::kRowsPerPass;
      const int iy = aOy[i] + dy, ix = aOx[i] + dx;
      const bool valid = kValid && iy >= 0 && iy < args.gridH && ix >= 0 && ix < args.gridW;
      cpAsync16L1(sA + stage * Cfg::kStageBytesA + swizzled<BK>(row, aChunk), valid ? aPixel[i] + offset : args.in, valid);
    }
  };

  uint4 poolRegs[POOL ? Cfg::kLoadsA : 1][4];
  auto loadAPoolRegs = [&]() {
    int dy, dx, ci;
    bool kValid;
    tapOf(dy, dx, ci, kValid);
    const int offset = (2 * dy * args.inW + 2 * dx) * args.inC + ci;
#pragma unroll
    for (int i = 0; i < Cfg::kLoadsA; ++i) {
      const int iy = aOy[i] + dy, ix = aOx[i] + dx;
      const bool valid = kValid && iy >= 0 && iy < args.gridH && ix >= 0 && ix < args.gridW;
      if (valid) {
        const __half* p = aPixel[i] + offset;
        poolRegs[i][0] = ldgNc(p);
        poolRegs[i][1] = ldgNc(p + args.inC);
        poolRegs[i][2] = ldgNc(p + inStrideRow);
        poolRegs[i][3] = ldgNc(p + inStrideRow + args.inC);
      } else {
        poolRegs[i][0] = poolRegs[i][1] = poolRegs[i][2] = poolRegs[i][3] = make_uint4(0, 0, 0, 0);
      }
    }
  };
  auto storeAPool = [&](int stage) {
#pragma unroll
    for (int i = 0; i < Cfg::kLoadsA; ++i) {
      const int row = aRow0 + i * Cfg::kRowsPerPass;
      const uint4 v = max4(poolRegs[i][0], poolRegs[i][1], poolRegs[i][2], poolRegs[i][3]);
      *reinterpret_cast<uint4*>(smem + stage * Cfg::kStageBytesA + swizzled<BK>(row, aChunk)) = v;
    }
  };

  float acc[Cfg::kTilesM][Cfg::kTilesN][4];
#pragma unroll
  for (int i = 0; i < Cfg::kTilesM; ++i)
#pragma unroll
    for (int j = 0; j < Cfg::kTilesN; ++j)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.f;

  auto computeStage = [&](int stage) {
    const uint32_t a = sA + stage * Cfg::kStageBytesA, b = sB + stage * Cfg::kStageBytesB;
#pragma unroll
    for (int kk = 0; kk < BK / 16; ++kk) {
      uint32_t af[Cfg::kTilesM][4];
      uint32_t bf[Cfg::kTilesN][2];
#pragma unroll
      for (int i = 0; i < Cfg::kTilesM; ++i) {
        const int row = warpM * WM + i * 16 + (lane & 15);
        ldmatrixX4(a + swizzled<BK>(row, kk * 2 + (lane >> 4)), af[i][0], af[i][1], af[i][2], af[i][3]);
      }
#pragma unroll
      for (int j = 0; j < Cfg::kTilesN; j += 2) {
        const int row = warpN * WN + j * 8 + (lane & 7) + ((lane >> 4) << 3);
        ldmatrixX4(b + swizzled<BK>(row, kk * 2 + ((lane >> 3) & 1)), bf[j][0], bf[j][1], bf[j + 1][0], bf[j + 1][1]);
      }
#pragma unroll
      for (int i = 0; i < Cfg::kTilesM; ++i)
#pragma unroll
        for (int j = 0; j < Cfg::kTilesN; ++j) mma16816(acc[i][j], af[i], bf[j][0], bf[j][1]);
    }
  };

  // ---- Pipeline: STAGES-1 slices in flight ahead of the one being multiplied. ----
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < kTiles) {
      if (POOL) {
        loadAPoolRegs();
        storeAPool(s);
      } else {
        loadADirectAsync(s);
      }
      loadBAsync(s, s);
    }
    cpAsyncCommit();
  }
  for (int kt = 0; kt < kTiles; ++kt) {
    cpAsyncWait<STAGES - 2>();
    __syncthreads();
    const int next = kt + STAGES - 1;
    const bool hasNext = next < kTiles;
    if (hasNext) {
      if (POOL) {
        loadAPoolRegs();  // loads in flight while the tensor cores work on slice kt
      } else {
        loadADirectAsync(next % STAGES);
      }
      loadBAsync(next, next % STAGES);
    }
    cpAsyncCommit();
    computeStage(kt % STAGES);
    if (POOL && hasNext) storeAPool(next % STAGES);  // that stage's last reader finished before this iteration's barrier
  }
  cpAsyncWait<0>();

  storeEpilogue<Cfg::kTilesM, Cfg::kTilesN, WM, WN, Cfg::kTileW>(args, ph, acc, frame, tileY0, tileX0, warpM, warpN,
                                                                  nBase, lane);
#endif
}


// ---- Halo-tile variant: the input patch is loaded once per 32-channel slice and every tap reads it from shared
// memory (ldmatrix takes one row address per lane, so a tap is just a shifted set of pixel rows). The plain
// implicit GEMM above re-reads the input once per tap (9x for 3x3, 4x for the 2x2 phases), which made those layers
// L2-bandwidth bound on the H100. Kernels up to 3x3; K is consumed as (32-channel slice) x (taps).
template <int TH, int TW, int BN, int WM, int WN>
struct HaloConfig {
  static constexpr int BM = TH * TW;
  static constexpr int kKMax = 3;
  static constexpr int kWarpsM = BM / WM, kWarpsN = BN / WN;
  static constexpr int kThreads = kWarpsM * kWarpsN * 32;
#if SMLMRT_TC_DEVICE_CODE  // used only by convHaloKernel's body
  static constexpr int kTilesM = WM / 16, kTilesN = WN / 8;
#endif
  static constexpr int kHaloBytes = (TH + kKMax - 1) * (TW + kKMax - 1) * 64;  // 32 channels x 2 bytes per pixel
  static constexpr int kTapBytes = BN * 64;
  static constexpr int kStageBytes = kHaloBytes + kKMax * kKMax * kTapBytes;
  static constexpr int kSmemBytes = 2 * kStageBytes;
  static_assert(TW % 8 == 0 && WM % 16 == 0 && WN % 16 == 0, "ldmatrix row groups of 8 stay in one patch row");
};

template <int TH, int TW, int BN, int WM, int WN, bool POOL>
__global__ void __launch_bounds__(HaloConfig<TH, TW, BN, WM, WN>::kThreads) convHaloKernel(const ConvArgs args) {
  using Cfg = HaloConfig<TH, TW, BN, WM, WN>;
#if !SMLMRT_TC_DEVICE_CODE
  __trap();  // cp.async and mma.m16n8k16 need sm_80; the host never selects this path there (convTcSupports)
#else

  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t sBase = smemAddress(smem);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int warpM = warp / Cfg::kWarpsN, warpN = warp % Cfg::kWarpsN;

  const BlockTile tile = blockTile<TH, TW, BN>(args);
  const int frame = tile.frame, tileY0 = tile.tileY0, tileX0 = tile.tileX0, nBase = tile.nBase;
  const ConvPhaseArgs ph = args.phases[tile.phaseIndex];

  const int cin = args.cin, taps = ph.kh * ph.kw, K = taps * cin;
  const int haloW = TW + ph.kw - 1, haloPixels = (TH + ph.kh - 1) * haloW;
  const int originY = tileY0 - ph.padTop, originX = tileX0 - ph.padLeft;
  const int slices = (cin + 31) / 32;
  const long long inRow = static_cast<long long>(args.inW) * args.inC;
  const __half* frameIn = args.in + static_cast<long long>(frame) * args.inH * inRow + args.inOff;

  auto loadSlice = [&](int slice, int stage) {
    const int c0 = slice * 32;
    const uint32_t sHalo = sBase + stage * Cfg::kStageBytes, sW = sHalo + Cfg::kHaloBytes;
#pragma unroll 4
    for (int idx = tid; idx < haloPixels * 4; idx += Cfg::kThreads) {
      const int p = idx >> 2, c = idx & 3;
      const int hy = p / haloW, hx = p - hy * haloW;
      const int gy = originY + hy, gx = originX + hx, ci = c0 + c * 8;
      const bool valid = gy >= 0 && gy < args.gridH && gx >= 0 && gx < args.gridW && ci < cin;
      if (POOL) {
        uint4 v = make_uint4(0, 0, 0, 0);
        if (valid) {
          const __half* q = frameIn + 2 * gy * inRow + static_cast<long long>(2 * gx) * args.inC + ci;
          v = max4(ldgNc(q), ldgNc(q + args.inC), ldgNc(q + inRow), ldgNc(q + inRow + args.inC));
        }
        *reinterpret_cast<uint4*>(smem + stage * Cfg::kStageBytes + swizzled<32>(p, c)) = v;
      } else {
        const __half* src = valid ? frameIn + gy * inRow + static_cast<long long>(gx) * args.inC + ci : args.in;
        cpAsync16(sHalo + swizzled<32>(p, c), src, valid);
      }
    }
    for (int idx = tid; idx < taps * BN * 4; idx += Cfg::kThreads) {
      const int c = idx & 3, rowTap = idx >> 2;
      const int t = rowTap / BN, row = rowTap - t * BN;
      const int co = nBase + row, ci = c0 + c * 8;
      const bool valid = co < args.cout && ci < cin;
      const __half* src = valid ? ph.weights + static_cast<long long>(co) * K + t * cin + ci : ph.weights;
      cpAsync16(sW + t * Cfg::kTapBytes + swizzled<32>(row, c), src, valid);
    }
  };

  // Halo pixel of each A row this lane addresses in ldmatrix, before the tap shift.
  int aPixel[Cfg::kTilesM];
#pragma unroll
  for (int i = 0; i < Cfg::kTilesM; ++i) {
    const int r = warpM * WM + i * 16 + (lane & 15);
    aPixel[i] = (r / TW) * haloW + (r % TW);
  }

  float acc[Cfg::kTilesM][Cfg::kTilesN][4];
#pragma unroll
  for (int i = 0; i < Cfg::kTilesM; ++i)
#pragma unroll
    for (int j = 0; j < Cfg::kTilesN; ++j)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.f;

  loadSlice(0, 0);
  cpAsyncCommit();
  for (int slice = 0; slice < slices; ++slice) {
    const int stage = slice & 1;
    if (slice + 1 < slices) loadSlice(slice + 1, stage ^ 1);  // that stage's readers passed the barrier below
    cpAsyncCommit();
    cpAsyncWait<1>();
    __syncthreads();
    const uint32_t sHalo = sBase + stage * Cfg::kStageBytes, sW = sHalo + Cfg::kHaloBytes;
    for (int t = 0; t < taps; ++t) {
      const int ky = t / ph.kw, kx = t - ky * ph.kw;
      const int shift = ky * haloW + kx;
      const uint32_t b = sW + t * Cfg::kTapBytes;
#pragma unroll
      for (int kk = 0; kk < 2; ++kk) {
        uint32_t af[Cfg::kTilesM][4];
        uint32_t bf[Cfg::kTilesN][2];
#pragma unroll
        for (int i = 0; i < Cfg::kTilesM; ++i)
          ldmatrixX4(sHalo + swizzled<32>(aPixel[i] + shift, kk * 2 + (lane >> 4)), af[i][0], af[i][1], af[i][2], af[i][3]);
#pragma unroll
        for (int j = 0; j < Cfg::kTilesN; j += 2) {
          const int row = warpN * WN + j * 8 + (lane & 7) + ((lane >> 4) << 3);
          ldmatrixX4(b + swizzled<32>(row, kk * 2 + ((lane >> 3) & 1)), bf[j][0], bf[j][1], bf[j + 1][0], bf[j + 1][1]);
        }
#pragma unroll
        for (int i = 0; i < Cfg::kTilesM; ++i)
#pragma unroll
          for (int j = 0; j < Cfg::kTilesN; ++j) mma16816(acc[i][j], af[i], bf[j][0], bf[j][1]);
      }
    }
    __syncthreads();  // everyone is done with this stage before the next iteration refills it
  }
  cpAsyncWait<0>();
  storeEpilogue<Cfg::kTilesM, Cfg::kTilesN, WM, WN, TW>(args, ph, acc, frame, tileY0, tileX0, warpM, warpN, nBase, lane);
#endif
}

// ---- Tactic table ----
struct Tactic {
  const char* name;
  int bm, bn, wn;
  int tileH, tileW;
  int maxKernel;  // largest kh / kw the tactic handles; 0: any
  int threads;
  int smemBytes;
  void (*kernelDirect)(const ConvArgs);
  void (*kernelPool)(const ConvArgs);
};

template <int BM, int BN, int BK, int WM, int WN, int STAGES, bool kWithPool = true>
Tactic makeTactic(const char* name) {
  using Cfg = TcConfig<BM, BN, BK, WM, WN, STAGES>;
  void (*pool)(const ConvArgs) = nullptr;
  if constexpr (kWithPool) pool = convTcKernel<BM, BN, BK, WM, WN, STAGES, true>;
  return Tactic{name, BM, BN, WN, Cfg::kTileH, Cfg::kTileW, 0, Cfg::kThreads, Cfg::kSmemBytes, convTcKernel<BM, BN, BK, WM, WN, STAGES, false>, pool};
}

template <int TH, int TW, int BN, int WM, int WN>
Tactic makeHaloTactic(const char* name) {
  using Cfg = HaloConfig<TH, TW, BN, WM, WN>;
  return Tactic{name, Cfg::BM, BN, WN, TH, TW, Cfg::kKMax, Cfg::kThreads, Cfg::kSmemBytes,
                convHaloKernel<TH, TW, BN, WM, WN, false>, convHaloKernel<TH, TW, BN, WM, WN, true>};
}

// Register budget decides which configurations get a max-pool variant: the pooled loads hold 4 x 16 bytes per A chunk
// in registers across the MMAs, which spills when a thread has more than ~4 chunks next to a 64x64 warp tile.
const Tactic* tactics() {
  static const Tactic table[] = {
      makeTactic<128, 128, 32, 64, 32, 4>("tc_m128n128k32_w8_s4"),
      makeTactic<128, 64, 32, 64, 32, 4>("tc_m128n64k32_w4_s4"),
      makeTactic<256, 64, 32, 64, 32, 3>("tc_m256n64k32_w8_s3"),
      makeTactic<128, 32, 32, 32, 32, 4>("tc_m128n32k32_w4_s4"),
      makeTactic<256, 32, 32, 32, 32, 3>("tc_m256n32k32_w8_s3"),
      makeTactic<64, 64, 32, 32, 32, 4>("tc_m64n64k32_w4_s4"),
      makeTactic<128, 128, 32, 64, 64, 3, false>("tc_m128n128k32_w4_s3"),
      makeTactic<256, 128, 32, 64, 64, 3, false>("tc_m256n128k32_w8_s3"),
      makeTactic<128, 128, 64, 64, 64, 3, false>("tc_m128n128k64_w4_s3"),
      makeTactic<128, 128, 64, 64, 32, 3>("tc_m128n128k64_w8_s3"),
      makeTactic<256, 128, 64, 64, 64, 3, false>("tc_m256n128k64_w8_s3"),
      makeTactic<128, 64, 64, 64, 32, 4, false>("tc_m128n64k64_w4_s4"),
      makeTactic<128, 32, 64, 32, 32, 4, false>("tc_m128n32k64_w4_s4"),
      makeTactic<256, 32, 64, 32, 32, 3>("tc_m256n32k64_w8_s3"),
      makeTactic<64, 64, 64, 32, 32, 4, false>("tc_m64n64k64_w4_s4"),
      makeTactic<256, 32, 32, 64, 32, 4, false>("tc_m256n32k32_w4_s4"),
      makeHaloTactic<8, 16, 128, 64, 64>("halo_t8x16_n128_w4"),
      makeHaloTactic<8, 16, 64, 64, 32>("halo_t8x16_n64_w4"),
      makeHaloTactic<8, 16, 32, 32, 32>("halo_t8x16_n32_w4"),
      makeHaloTactic<16, 16, 128, 64, 64>("halo_t16x16_n128_w8"),
      makeHaloTactic<16, 16, 64, 64, 32>("halo_t16x16_n64_w8"),
      makeHaloTactic<16, 16, 32, 32, 32>("halo_t16x16_n32_w8"),
  };
  return table;
}
constexpr int kTacticCount = 22;

bool aligned8(int v) { return v % 8 == 0; }

}  // namespace

int convTcTacticCount() { return kTacticCount; }
const char* convTcTacticName(int tactic) {
  return tactic >= 0 && tactic < kTacticCount ? tactics()[tactic].name : "invalid";
}

bool convTcSupports(const ConvArgs& a) {
  int device = 0, major = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  if (major < 8) return false;  // Turing: no cp.async / m16n8k16; the generic kernels run instead
  return aligned8(a.cin) && aligned8(a.cout) && aligned8(a.inC) && aligned8(a.inOff) && aligned8(a.outC) &&
         aligned8(a.outOff) && a.phaseCount >= 1 && a.phaseCount <= kMaxPhasesPerLaunch;
}

// Opt-in shared memory per block of the current device (99 KB on sm_86/89, 163 KB on sm_80, 227 KB on sm_90).
int deviceSharedMemoryLimit() {
  int device = 0, bytes = 48 * 1024;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
    cudaGetLastError();
    return 48 * 1024;
  }
  return bytes;
}

bool convTcTacticFits(int tactic, const ConvArgs& a) {
  if (tactic < 0 || tactic >= kTacticCount) return false;
  const Tactic& t = tactics()[tactic];
  if (t.smemBytes > deviceSharedMemoryLimit()) return false;
  if (t.maxKernel && std::getenv("SMLM_RT_NO_HALO")) return false;  // A/B switch for the halo-tile family
  if (a.pool && !t.kernelPool) return false;
  if (t.maxKernel && (a.maxKh > t.maxKernel || a.maxKw > t.maxKernel)) return false;
  if (a.headWeights) return t.bn >= a.cout && t.wn >= a.cout && t.bn == t.wn;  // one warp column holds all of cout
  // A tile more than twice as wide as the layer wastes over half of its tensor-core work.
  return t.bn <= 2 * ((a.cout + 7) / 8 * 8) || t.bn <= 32;
}

void launchConvTc(int tactic, const ConvArgs& a, cudaStream_t stream) {
  if (tactic < 0 || tactic >= kTacticCount) throw EngineError("E_GPU", "convTc: unknown tactic");
  const Tactic& t = tactics()[tactic];
  if (a.headWeights && !(t.bn >= a.cout && t.wn >= a.cout && t.bn == t.wn))
    throw EngineError("E_GPU", std::string("convTc: tactic ") + t.name + " cannot fuse the head");
  auto kernel = a.pool ? t.kernelPool : t.kernelDirect;
  if (t.maxKernel && (a.maxKh > t.maxKernel || a.maxKw > t.maxKernel))
    throw EngineError("E_GPU", std::string("convTc: tactic ") + t.name + " handles kernels up to 3x3 only");
  if (!kernel) throw EngineError("E_GPU", std::string("convTc: tactic ") + t.name + " has no max-pool variant");
  // The dynamic shared-memory opt-in is a per-device function attribute: set it once per (device, kernel). Engines
  // always run a shape eagerly before capturing it, so this never happens inside a graph capture.
  {
    static std::mutex mutex;
    static std::set<std::tuple<int, bool, int>> done;
    int device = 0;
    checkCuda(cudaGetDevice(&device), "cudaGetDevice");
    std::lock_guard<std::mutex> lock(mutex);
    if (done.insert(std::make_tuple(device, a.pool, tactic)).second) {
      const cudaError_t status = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, t.smemBytes);
      if (status != cudaSuccess) done.erase(std::make_tuple(device, a.pool, tactic));
      checkCuda(status, "convTc: shared memory attribute");
    }
  }
  const long long patches = static_cast<long long>(a.batch) * ((a.gridH + t.tileH - 1) / t.tileH) *
                            ((a.gridW + t.tileW - 1) / t.tileW);
  const long long blocks = patches * a.phaseCount * ((a.cout + t.bn - 1) / t.bn);
  if (blocks <= 0) return;
  if (blocks > 0x7fffffffLL) throw EngineError("E_GPU", "convTc: launch too large for one grid");
  kernel<<<static_cast<unsigned>(blocks), t.threads, t.smemBytes, stream>>>(a);
  checkLaunch(t.name);
}

}  // namespace smlmrt
