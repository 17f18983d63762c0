#include "textflag.h"

// Horizontal sum of the 8 lanes of Y(r) into the low lane of X(r), in a
// fixed order: ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)). Clobbers X15.
#define HSUM(Yr, Xr) \
	VEXTRACTF128 $1, Yr, X15 \
	VADDPS X15, Xr, Xr \
	VMOVHLPS Xr, Xr, X15 \
	VADDPS X15, Xr, Xr \
	VMOVSHDUP Xr, X15 \
	VADDSS X15, Xr, Xr

// func dot4AVX(a, b *float32, k, ldb int, out *float32)
// out[j] = Σ a[x]·b[j·ldb+x] for j = 0..3: 8-lane FMA accumulation over
// x < k&^7, the fixed horizontal sum, then a scalar FMA tail.
TEXT ·dot4AVX(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ k+16(FP), CX
	MOVQ ldb+24(FP), R8
	MOVQ out+32(FP), R9
	SHLQ $2, R8
	LEAQ (DI)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-8, DX
loop8:
	CMPQ AX, DX
	JGE  sums
	VMOVUPS (SI)(AX*4), Y4
	VFMADD231PS (DI)(AX*4), Y4, Y0
	VFMADD231PS (R10)(AX*4), Y4, Y1
	VFMADD231PS (R11)(AX*4), Y4, Y2
	VFMADD231PS (R12)(AX*4), Y4, Y3
	ADDQ $8, AX
	JMP  loop8
sums:
	HSUM(Y0, X0)
	HSUM(Y1, X1)
	HSUM(Y2, X2)
	HSUM(Y3, X3)
tail:
	CMPQ AX, CX
	JGE  done
	VMOVSS (SI)(AX*4), X4
	VFMADD231SS (DI)(AX*4), X4, X0
	VFMADD231SS (R10)(AX*4), X4, X1
	VFMADD231SS (R11)(AX*4), X4, X2
	VFMADD231SS (R12)(AX*4), X4, X3
	INCQ AX
	JMP  tail
done:
	VMOVSS X0, 0(R9)
	VMOVSS X1, 4(R9)
	VMOVSS X2, 8(R9)
	VMOVSS X3, 12(R9)
	VZEROUPPER
	RET

// func dot1AVX(a, b *float32, k int) float32
// The same arithmetic as one column of dot4AVX.
TEXT ·dot1AVX(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ k+16(FP), CX
	VXORPS Y0, Y0, Y0
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-8, DX
loop8:
	CMPQ AX, DX
	JGE  sums
	VMOVUPS (SI)(AX*4), Y4
	VFMADD231PS (DI)(AX*4), Y4, Y0
	ADDQ $8, AX
	JMP  loop8
sums:
	HSUM(Y0, X0)
tail:
	CMPQ AX, CX
	JGE  done
	VMOVSS (SI)(AX*4), X4
	VFMADD231SS (DI)(AX*4), X4, X0
	INCQ AX
	JMP  tail
done:
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// Horizontal sum like HSUM with an explicit scratch register.
#define HSUMS(Yr, Xr, Xs) \
	VEXTRACTF128 $1, Yr, Xs \
	VADDPS Xs, Xr, Xr \
	VMOVHLPS Xr, Xr, Xs \
	VADDPS Xs, Xr, Xr \
	VMOVSHDUP Xr, Xs \
	VADDSS Xs, Xr, Xr

// MROW reduces one row's four accumulators A, B, C, D (columns 0..3) to
// A = [a0+a2, a1+a3, b0+b2, b1+b3 | c.., d..] where xk = lane k + lane k+4.
#define MROW(A, B, C, D) \
	VPERM2F128 $0x20, C, A, Y12 \
	VPERM2F128 $0x31, C, A, Y13 \
	VADDPS Y13, Y12, A \
	VPERM2F128 $0x20, D, B, Y12 \
	VPERM2F128 $0x31, D, B, Y13 \
	VADDPS Y13, Y12, B \
	VSHUFPS $0x44, B, A, Y12 \
	VSHUFPS $0xEE, B, A, Y13 \
	VADDPS Y13, Y12, A

// func mm3x4AVX(a *float32, lda int, b *float32, ldb, k int, c *float32, ldc int, nb int, acc int)
// Three rows of A (stride lda) against nb groups of four rows of B (stride
// ldb): c[r·ldc + 4g+j] (+)= Σ_{x<k} a[r·lda+x]·b[(4g+j)·ldb+x]. Each of the twelve
// dot products per group is computed exactly like dot1AVX (8-lane FMA
// accumulation, the fixed horizontal sum, the scalar FMA tail), so results
// are bit-identical to dot4AVX/dot1AVX; only the register blocking differs
// (7 loads per 12 FMAs instead of 5 per 4).
TEXT ·mm3x4AVX(SB), NOSPLIT, $0-72
	MOVQ a+0(FP), SI
	MOVQ lda+8(FP), R13
	SHLQ $2, R13
	LEAQ (SI)(R13*2), R14
	ADDQ SI, R13
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R8
	SHLQ $2, R8
	MOVQ k+32(FP), CX
	MOVQ c+40(FP), R9
	MOVQ ldc+48(FP), BX
	SHLQ $2, BX
	MOVQ CX, DX
	ANDQ $-8, DX
group:
	CMPQ nb+56(FP), $0
	JLE  end
	LEAQ (DI)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	XORQ AX, AX
mloop16: // two steps of 8 per branch while 16 or more remain
	LEAQ 8(AX), R15
	CMPQ R15, DX
	JGE  mloop8
	VMOVUPS (SI)(AX*4), Y12
	VMOVUPS (R13)(AX*4), Y13
	VMOVUPS (R14)(AX*4), Y14
	VMOVUPS (DI)(AX*4), Y15
	VFMADD231PS Y15, Y12, Y0
	VFMADD231PS Y15, Y13, Y4
	VFMADD231PS Y15, Y14, Y8
	VMOVUPS (R10)(AX*4), Y15
	VFMADD231PS Y15, Y12, Y1
	VFMADD231PS Y15, Y13, Y5
	VFMADD231PS Y15, Y14, Y9
	VMOVUPS (R11)(AX*4), Y15
	VFMADD231PS Y15, Y12, Y2
	VFMADD231PS Y15, Y13, Y6
	VFMADD231PS Y15, Y14, Y10
	VMOVUPS (R12)(AX*4), Y15
	VFMADD231PS Y15, Y12, Y3
	VFMADD231PS Y15, Y13, Y7
	VFMADD231PS Y15, Y14, Y11
	VMOVUPS 32(SI)(AX*4), Y12
	VMOVUPS 32(R13)(AX*4), Y13
	VMOVUPS 32(R14)(AX*4), Y14
	VMOVUPS 32(DI)(AX*4), Y15
	VFMADD231PS Y15, Y12, Y0
	VFMADD231PS Y15, Y13, Y4
	VFMADD231PS Y15, Y14, Y8
	VMOVUPS 32(R10)(AX*4), Y15
	VFMADD231PS Y15, Y12, Y1
	VFMADD231PS Y15, Y13, Y5
	VFMADD231PS Y15, Y14, Y9
	VMOVUPS 32(R11)(AX*4), Y15
	VFMADD231PS Y15, Y12, Y2
	VFMADD231PS Y15, Y13, Y6
	VFMADD231PS Y15, Y14, Y10
	VMOVUPS 32(R12)(AX*4), Y15
	VFMADD231PS Y15, Y12, Y3
	VFMADD231PS Y15, Y13, Y7
	VFMADD231PS Y15, Y14, Y11
	ADDQ $16, AX
	JMP  mloop16
mloop8:
	CMPQ AX, DX
	JGE  msums
	VMOVUPS (SI)(AX*4), Y12
	VMOVUPS (R13)(AX*4), Y13
	VMOVUPS (R14)(AX*4), Y14
	VMOVUPS (DI)(AX*4), Y15
	VFMADD231PS Y15, Y12, Y0
	VFMADD231PS Y15, Y13, Y4
	VFMADD231PS Y15, Y14, Y8
	VMOVUPS (R10)(AX*4), Y15
	VFMADD231PS Y15, Y12, Y1
	VFMADD231PS Y15, Y13, Y5
	VFMADD231PS Y15, Y14, Y9
	VMOVUPS (R11)(AX*4), Y15
	VFMADD231PS Y15, Y12, Y2
	VFMADD231PS Y15, Y13, Y6
	VFMADD231PS Y15, Y14, Y10
	VMOVUPS (R12)(AX*4), Y15
	VFMADD231PS Y15, Y12, Y3
	VFMADD231PS Y15, Y13, Y7
	VFMADD231PS Y15, Y14, Y11
	ADDQ $8, AX
	JMP  mloop8
msums:
	CMPQ DX, CX
	JNE  mhsum
	// k is a multiple of 8: the twelve horizontal sums together, three
	// 128-bit results of four columns each, with exactly HSUMS's additions
	// (lo+hi lanes, then (t0+t2),(t1+t3), then their sum; each first
	// operand as there).
	MROW(Y0, Y1, Y2, Y3)
	MROW(Y4, Y5, Y6, Y7)
	MROW(Y8, Y9, Y10, Y11)
	VSHUFPS $0x88, Y4, Y0, Y12
	VSHUFPS $0xDD, Y4, Y0, Y13
	VADDPS Y13, Y12, Y12
	VEXTRACTF128 $1, Y12, X13
	VSHUFPS $0x44, X13, X12, X0
	VSHUFPS $0xEE, X13, X12, X4
	VSHUFPS $0x88, Y8, Y8, Y12
	VSHUFPS $0xDD, Y8, Y8, Y13
	VADDPS Y13, Y12, Y12
	VEXTRACTF128 $1, Y12, X13
	VSHUFPS $0x44, X13, X12, X8
	CMPQ acc+64(FP), $0
	JEQ  mvput
	VADDPS 0(R9), X0, X0
	VADDPS 0(R9)(BX*1), X4, X4
	VADDPS 0(R9)(BX*2), X8, X8
mvput:
	VMOVUPS X0, 0(R9)
	VMOVUPS X4, 0(R9)(BX*1)
	VMOVUPS X8, 0(R9)(BX*2)
	JMP  mnext
mhsum:
	HSUMS(Y0, X0, X12)
	HSUMS(Y1, X1, X12)
	HSUMS(Y2, X2, X12)
	HSUMS(Y3, X3, X12)
	HSUMS(Y4, X4, X12)
	HSUMS(Y5, X5, X12)
	HSUMS(Y6, X6, X12)
	HSUMS(Y7, X7, X12)
	HSUMS(Y8, X8, X12)
	HSUMS(Y9, X9, X12)
	HSUMS(Y10, X10, X12)
	HSUMS(Y11, X11, X12)
mtail:
	CMPQ AX, CX
	JGE  mstore
	VMOVSS (SI)(AX*4), X12
	VMOVSS (R13)(AX*4), X13
	VMOVSS (R14)(AX*4), X14
	VMOVSS (DI)(AX*4), X15
	VFMADD231SS X15, X12, X0
	VFMADD231SS X15, X13, X4
	VFMADD231SS X15, X14, X8
	VMOVSS (R10)(AX*4), X15
	VFMADD231SS X15, X12, X1
	VFMADD231SS X15, X13, X5
	VFMADD231SS X15, X14, X9
	VMOVSS (R11)(AX*4), X15
	VFMADD231SS X15, X12, X2
	VFMADD231SS X15, X13, X6
	VFMADD231SS X15, X14, X10
	VMOVSS (R12)(AX*4), X15
	VFMADD231SS X15, X12, X3
	VFMADD231SS X15, X13, X7
	VFMADD231SS X15, X14, X11
	INCQ AX
	JMP  mtail
mstore:
	CMPQ acc+64(FP), $0
	JEQ  mput
	VADDSS 0(R9), X0, X0
	VADDSS 4(R9), X1, X1
	VADDSS 8(R9), X2, X2
	VADDSS 12(R9), X3, X3
	VADDSS 0(R9)(BX*1), X4, X4
	VADDSS 4(R9)(BX*1), X5, X5
	VADDSS 8(R9)(BX*1), X6, X6
	VADDSS 12(R9)(BX*1), X7, X7
	VADDSS 0(R9)(BX*2), X8, X8
	VADDSS 4(R9)(BX*2), X9, X9
	VADDSS 8(R9)(BX*2), X10, X10
	VADDSS 12(R9)(BX*2), X11, X11
mput:
	VMOVSS X0, 0(R9)
	VMOVSS X1, 4(R9)
	VMOVSS X2, 8(R9)
	VMOVSS X3, 12(R9)
	VMOVSS X4, 0(R9)(BX*1)
	VMOVSS X5, 4(R9)(BX*1)
	VMOVSS X6, 8(R9)(BX*1)
	VMOVSS X7, 12(R9)(BX*1)
	VMOVSS X8, 0(R9)(BX*2)
	VMOVSS X9, 4(R9)(BX*2)
	VMOVSS X10, 8(R9)(BX*2)
	VMOVSS X11, 12(R9)(BX*2)
mnext:
	ADDQ $16, R9
	LEAQ (DI)(R8*4), DI
	DECQ nb+56(FP)
	JMP  group
end:
	VZEROUPPER
	RET

// func dotsAVX(q, k *float32, stride, np, hd int, out *float32)
// out[j] = dot1AVX(q, k+j·stride, hd) for j < np: the scores of one query
// against np keys, each with exactly dot1AVX's arithmetic.
TEXT ·dotsAVX(SB), NOSPLIT, $0-48
	MOVQ q+0(FP), SI
	MOVQ k+8(FP), DI
	MOVQ stride+16(FP), R8
	SHLQ $2, R8
	MOVQ np+24(FP), R10
	MOVQ hd+32(FP), CX
	MOVQ out+40(FP), R9
	MOVQ CX, DX
	ANDQ $-8, DX
drow:
	TESTQ R10, R10
	JLE  dend
	VXORPS Y0, Y0, Y0
	XORQ AX, AX
dl8:
	CMPQ AX, DX
	JGE  dsum
	VMOVUPS (SI)(AX*4), Y4
	VFMADD231PS (DI)(AX*4), Y4, Y0
	ADDQ $8, AX
	JMP  dl8
dsum:
	HSUM(Y0, X0)
dtail:
	CMPQ AX, CX
	JGE  dput
	VMOVSS (SI)(AX*4), X4
	VFMADD231SS (DI)(AX*4), X4, X0
	INCQ AX
	JMP  dtail
dput:
	VMOVSS X0, (R9)
	ADDQ $4, R9
	ADDQ R8, DI
	DECQ R10
	JMP  drow
dend:
	VZEROUPPER
	RET

// func axpyAVX(dst, x *float32, a float32, n int)
// dst[d] += a·x[d]: a rounded product, then a rounded sum (no FMA), as the
// portable loop computes it.
TEXT ·axpyAVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	VBROADCASTSS a+16(FP), Y0
	MOVQ n+24(FP), CX
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-8, DX
xl8:
	CMPQ AX, DX
	JGE  xtail
	VMULPS (SI)(AX*4), Y0, Y1
	VADDPS (DI)(AX*4), Y1, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ $8, AX
	JMP  xl8
xtail:
	CMPQ AX, CX
	JGE  xdone
	VMULSS (SI)(AX*4), X0, X1
	VADDSS (DI)(AX*4), X1, X1
	VMOVSS X1, (DI)(AX*4)
	INCQ AX
	JMP  xtail
xdone:
	VZEROUPPER
	RET

// func attnBack3AVX(do, qi, dqi, kj, dkj, dvj *float32, pj, dsj float32, n int)
// One (query i, key j) term of the attention backward pass:
// dvj += pj·do, dqi += dsj·kj, dkj += dsj·qi, each a rounded product then a
// rounded sum, as the portable loops compute them.
TEXT ·attnBack3AVX(SB), NOSPLIT, $0-64
	MOVQ do+0(FP), SI
	MOVQ qi+8(FP), R8
	MOVQ dqi+16(FP), R9
	MOVQ kj+24(FP), R10
	MOVQ dkj+32(FP), R11
	MOVQ dvj+40(FP), R12
	VBROADCASTSS pj+48(FP), Y0
	VBROADCASTSS dsj+52(FP), Y1
	MOVQ n+56(FP), CX
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-8, DX
bl8:
	CMPQ AX, DX
	JGE  btail
	VMULPS (SI)(AX*4), Y0, Y2
	VADDPS (R12)(AX*4), Y2, Y2
	VMOVUPS Y2, (R12)(AX*4)
	VMULPS (R10)(AX*4), Y1, Y3
	VADDPS (R9)(AX*4), Y3, Y3
	VMOVUPS Y3, (R9)(AX*4)
	VMULPS (R8)(AX*4), Y1, Y4
	VADDPS (R11)(AX*4), Y4, Y4
	VMOVUPS Y4, (R11)(AX*4)
	ADDQ $8, AX
	JMP  bl8
btail:
	CMPQ AX, CX
	JGE  bdone
	VMULSS (SI)(AX*4), X0, X2
	VADDSS (R12)(AX*4), X2, X2
	VMOVSS X2, (R12)(AX*4)
	VMULSS (R10)(AX*4), X1, X3
	VADDSS (R9)(AX*4), X3, X3
	VMOVSS X3, (R9)(AX*4)
	VMULSS (R8)(AX*4), X1, X4
	VADDSS (R11)(AX*4), X4, X4
	VMOVSS X4, (R11)(AX*4)
	INCQ AX
	JMP  btail
bdone:
	VZEROUPPER
	RET

// func transpose8AVX(dst *float32, ldd int, src *float32, lds int, nb int)
// Transposes nb 8×8 blocks: the 8 rows of src (stride lds) at columns
// 8b..8b+7 become rows 8b..8b+7 of dst (stride ldd), columns 0..7.
TEXT ·transpose8AVX(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R9
	SHLQ $2, R9
	MOVQ nb+32(FP), CX
	LEAQ (R9)(R9*2), R10 // 3·lds
	LEAQ (R8)(R8*2), R11 // 3·ldd
	LEAQ (SI)(R9*4), R12 // src row 4
	LEAQ (DI)(R8*4), R13 // dst row 4
tblk:
	TESTQ CX, CX
	JLE  tend
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R9*1), Y1
	VMOVUPS (SI)(R9*2), Y2
	VMOVUPS (SI)(R10*1), Y3
	VMOVUPS (R12), Y4
	VMOVUPS (R12)(R9*1), Y5
	VMOVUPS (R12)(R9*2), Y6
	VMOVUPS (R12)(R10*1), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(R8*1)
	VMOVUPS Y10, (DI)(R8*2)
	VMOVUPS Y11, (DI)(R11*1)
	VMOVUPS Y12, (R13)
	VMOVUPS Y13, (R13)(R8*1)
	VMOVUPS Y14, (R13)(R8*2)
	VMOVUPS Y15, (R13)(R11*1)
	ADDQ $32, SI
	ADDQ $32, R12
	LEAQ (DI)(R8*8), DI
	LEAQ (R13)(R8*8), R13
	DECQ CX
	JMP  tblk
tend:
	VZEROUPPER
	RET

// Constants of math.Exp's amd64 implementation (math/exp_amd64.s).
DATA expc<>+0(SB)/8, $1.4426950408889634073599246810018920 // LOG2E
DATA expc<>+8(SB)/8, $0.69314718055966295651160180568695068359375 // LN2U
DATA expc<>+16(SB)/8, $0.28235290563031577122588448175013436025525412068e-12 // LN2L
DATA expc<>+24(SB)/8, $0.0625
DATA expc<>+32(SB)/8, $2.0
DATA expc<>+40(SB)/8, $1.0
DATA expc<>+48(SB)/8, $7.09782712893384e+02 // Overflow
DATA expc<>+56(SB)/8, $2.4801587301587301587e-5
DATA expc<>+64(SB)/8, $1.9841269841269841270e-4
DATA expc<>+72(SB)/8, $1.3888888888888888889e-3
DATA expc<>+80(SB)/8, $8.3333333333333333333e-3
DATA expc<>+88(SB)/8, $4.1666666666666666667e-2
DATA expc<>+96(SB)/8, $1.6666666666666666667e-1
DATA expc<>+104(SB)/8, $0.5
GLOBL expc<>(SB), RODATA, $112

// EXP_SETUP loads the constants EXP4 uses into Y7–Y13, X14, X15 and X6.
#define EXP_SETUP \
	VBROADCASTSD expc<>+0(SB), Y8; \
	VBROADCASTSD expc<>+8(SB), Y9; \
	VBROADCASTSD expc<>+16(SB), Y10; \
	VBROADCASTSD expc<>+24(SB), Y11; \
	VBROADCASTSD expc<>+32(SB), Y12; \
	VBROADCASTSD expc<>+40(SB), Y13; \
	VBROADCASTSD expc<>+48(SB), Y7; \
	MOVQ $1023, BX; \
	VMOVQ BX, X14; \
	VPBROADCASTD X14, X14; \
	MOVQ $2047, BX; \
	VMOVQ BX, X15; \
	VPBROADCASTD X15, X15; \
	VPXOR X6, X6, X6

// EXP4(done) sets Y0 to exp(Y0), four float64 lanes, with the operations
// of Go's amd64 math.Exp (reduction, polynomial, ldexp); it jumps to done
// when a lane would overflow or its ldexp leaves the normal range, for the
// caller to hand the group to math.Exp. It uses Y1–Y5 and BX.
#define EXP4(done) \
	VCMPPD $0x1E, Y7, Y0, Y5; \
	VMOVMSKPD Y5, BX; \
	TESTQ BX, BX; \
	JNE done; \
	VMULPD Y8, Y0, Y1; \
	VCVTPD2DQY Y1, X2; \
	VCVTDQ2PD X2, Y1; \
	VFNMADD231PD Y9, Y1, Y0; \
	VFNMADD231PD Y10, Y1, Y0; \
	VMULPD Y11, Y0, Y0; \
	VBROADCASTSD expc<>+56(SB), Y1; \
	VBROADCASTSD expc<>+64(SB), Y3; \
	VFMADD213PD Y3, Y0, Y1; \
	VBROADCASTSD expc<>+72(SB), Y3; \
	VFMADD213PD Y3, Y0, Y1; \
	VBROADCASTSD expc<>+80(SB), Y3; \
	VFMADD213PD Y3, Y0, Y1; \
	VBROADCASTSD expc<>+88(SB), Y3; \
	VFMADD213PD Y3, Y0, Y1; \
	VBROADCASTSD expc<>+96(SB), Y3; \
	VFMADD213PD Y3, Y0, Y1; \
	VBROADCASTSD expc<>+104(SB), Y3; \
	VFMADD213PD Y3, Y0, Y1; \
	VFMADD213PD Y13, Y0, Y1; \
	VMULPD Y1, Y0, Y0; \
	VADDPD Y12, Y0, Y1; \
	VMULPD Y1, Y0, Y0; \
	VADDPD Y12, Y0, Y1; \
	VMULPD Y1, Y0, Y0; \
	VADDPD Y12, Y0, Y1; \
	VMULPD Y1, Y0, Y0; \
	VADDPD Y12, Y0, Y1; \
	VFMADD213PD Y13, Y1, Y0; \
	; \
	VPADDD X14, X2, X3; \
	VPCMPGTD X6, X3, X4; \
	VPCMPGTD X3, X15, X5; \
	VPAND X5, X4, X4; \
	VMOVMSKPS X4, BX; \
	CMPQ BX, $15; \
	JNE done; \
	VPMOVZXDQ X3, Y4; \
	VPSLLQ $52, Y4, Y4; \
	VMULPD Y4, Y0, Y0

// func expAVX(dst, src *float64, n int) int
// dst[i] = math.Exp(src[i]), four at a time, by exactly the operations of
// math.Exp's FMA path (each lane rounds as the scalar code does), for
// groups whose results are normal numbers. It stops at the first group of
// four with an argument math.Exp treats specially (not finite, overflow, a
// denormal or zero result) and returns how many elements it wrote; the
// caller computes that group with math.Exp.
TEXT ·expAVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	ANDQ $-4, CX
	XORQ AX, AX
	EXP_SETUP
eloop:
	CMPQ AX, CX
	JGE  edone
	VMOVUPD (SI)(AX*8), Y0
	EXP4(edone)
	VMOVUPD Y0, (DI)(AX*8)
	ADDQ $4, AX
	JMP  eloop
edone:
	MOVQ AX, ret+24(FP)
	VZEROUPPER
	RET

// func adamAVX(w, gr, m, v *float32, n int, k *float64, decay int)
// AdamW on n&^3 parameters, four at a time in float64, with exactly the
// operations (and their order) of the portable loop in adamW.update;
// k = {scale, b1, 1-b1, b2, 1-b2, c1, c2, lr, lr·wd, 1e-8}.
TEXT ·adamAVX(SB), NOSPLIT, $0-56
	MOVQ w+0(FP), DI
	MOVQ gr+8(FP), SI
	MOVQ m+16(FP), R8
	MOVQ v+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ k+40(FP), R10
	MOVQ decay+48(FP), R11
	VBROADCASTSD 0(R10), Y8
	VBROADCASTSD 8(R10), Y9
	VBROADCASTSD 16(R10), Y10
	VBROADCASTSD 24(R10), Y11
	VBROADCASTSD 32(R10), Y12
	VBROADCASTSD 40(R10), Y13
	VBROADCASTSD 48(R10), Y14
	VBROADCASTSD 56(R10), Y15
	VBROADCASTSD 64(R10), Y7
	VBROADCASTSD 72(R10), Y6
	ANDQ $-4, CX
	XORQ AX, AX
aloop:
	CMPQ AX, CX
	JGE  adone
	VCVTPS2PD (SI)(AX*4), Y0
	VMULPD Y8, Y0, Y0 // gi
	VCVTPS2PD (R8)(AX*4), Y1
	VMULPD Y9, Y1, Y1
	VMULPD Y10, Y0, Y2
	VADDPD Y2, Y1, Y1 // m
	VCVTPS2PD (R9)(AX*4), Y2
	VMULPD Y11, Y2, Y2
	VMULPD Y12, Y0, Y3
	VMULPD Y0, Y3, Y3
	VADDPD Y3, Y2, Y2 // v
	VCVTPD2PSY Y1, X3
	VMOVUPS X3, (R8)(AX*4)
	VCVTPD2PSY Y2, X3
	VMOVUPS X3, (R9)(AX*4)
	VCVTPS2PD (DI)(AX*4), Y3 // p
	TESTQ R11, R11
	JEQ  anodecay
	VMULPD Y3, Y7, Y4
	VSUBPD Y4, Y3, Y3
anodecay:
	VDIVPD Y13, Y1, Y1
	VMULPD Y1, Y15, Y1
	VDIVPD Y14, Y2, Y2
	VSQRTPD Y2, Y2
	VADDPD Y6, Y2, Y2
	VDIVPD Y2, Y1, Y1
	VSUBPD Y1, Y3, Y3
	VCVTPD2PSY Y3, X3
	VMOVUPS X3, (DI)(AX*4)
	ADDQ $4, AX
	JMP  aloop
adone:
	VZEROUPPER
	RET

// func cpuid(eax, ecx uint32) (a, b, c, d uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eax+0(FP), AX
	MOVL ecx+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET

// func xgetbv() (eax uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-4
	MOVL $0, CX
	XGETBV
	MOVL AX, ret+0(FP)
	RET

// Three rows of the non-fused product-sum: acc (a Y register) += bcast·mem,
// a rounded product then a rounded sum, the product the first operand (as
// axpyAVX and attnBack3AVX add).
#define PVMUL(mem, Yb, Yt, Yacc) \
	VMULPS mem, Yb, Yt \
	VADDPS Yacc, Yt, Yacc

#define PVMULS(mem, Xb, Xt, Xacc) \
	VMULSS mem, Xb, Xt \
	VADDSS Xacc, Xt, Xacc

// func pv3AVX(a *float32, ars, ats int, b *float32, ldb int, c *float32, ldc int, t, n int, acc int)
// For rows r < 3 and columns d < n:
// c[r·ldc+d] = (acc ? c[r·ldc+d] : 0) + Σ_{x<t} a[r·ars+x·ats]·b[x·ldb+d],
// the terms added in order of x, each a rounded product then a rounded sum:
// per element exactly the arithmetic of axpyAVX called for x = 0, 1, ….
// Columns go 32, then 8 at a time, then one by one.
TEXT ·pv3AVX(SB), NOSPLIT, $0-80
	MOVQ a+0(FP), SI
	MOVQ ars+8(FP), R8
	SHLQ $2, R8
	MOVQ ats+16(FP), R9
	SHLQ $2, R9
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R10
	SHLQ $2, R10
	MOVQ c+40(FP), R11
	MOVQ ldc+48(FP), R12
	SHLQ $2, R12
	MOVQ t+56(FP), R13
	MOVQ n+64(FP), CX
	SHLQ $2, CX
	XORQ BX, BX // column offset in bytes
pc32:
	MOVQ CX, AX
	SUBQ BX, AX
	CMPQ AX, $128
	JLT  pc8
	LEAQ (R11)(BX*1), AX
	LEAQ (AX)(R12*2), DX
	CMPQ acc+72(FP), $0
	JEQ  pz32
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVUPS 64(AX), Y2
	VMOVUPS 96(AX), Y3
	VMOVUPS (AX)(R12*1), Y4
	VMOVUPS 32(AX)(R12*1), Y5
	VMOVUPS 64(AX)(R12*1), Y6
	VMOVUPS 96(AX)(R12*1), Y7
	VMOVUPS (DX), Y8
	VMOVUPS 32(DX), Y9
	VMOVUPS 64(DX), Y10
	VMOVUPS 96(DX), Y11
	JMP  pl32
pz32:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
pl32:
	MOVQ SI, DX
	LEAQ (DI)(BX*1), R14
	MOVQ R13, AX
pl32x:
	TESTQ AX, AX
	JLE  ps32
	VBROADCASTSS (DX), Y12
	PVMUL((R14), Y12, Y13, Y0)
	PVMUL(32(R14), Y12, Y14, Y1)
	PVMUL(64(R14), Y12, Y15, Y2)
	PVMUL(96(R14), Y12, Y13, Y3)
	VBROADCASTSS (DX)(R8*1), Y12
	PVMUL((R14), Y12, Y14, Y4)
	PVMUL(32(R14), Y12, Y15, Y5)
	PVMUL(64(R14), Y12, Y13, Y6)
	PVMUL(96(R14), Y12, Y14, Y7)
	VBROADCASTSS (DX)(R8*2), Y12
	PVMUL((R14), Y12, Y15, Y8)
	PVMUL(32(R14), Y12, Y13, Y9)
	PVMUL(64(R14), Y12, Y14, Y10)
	PVMUL(96(R14), Y12, Y15, Y11)
	ADDQ R9, DX
	ADDQ R10, R14
	DECQ AX
	JMP  pl32x
ps32:
	LEAQ (R11)(BX*1), AX
	LEAQ (AX)(R12*2), DX
	VMOVUPS Y0, (AX)
	VMOVUPS Y1, 32(AX)
	VMOVUPS Y2, 64(AX)
	VMOVUPS Y3, 96(AX)
	VMOVUPS Y4, (AX)(R12*1)
	VMOVUPS Y5, 32(AX)(R12*1)
	VMOVUPS Y6, 64(AX)(R12*1)
	VMOVUPS Y7, 96(AX)(R12*1)
	VMOVUPS Y8, (DX)
	VMOVUPS Y9, 32(DX)
	VMOVUPS Y10, 64(DX)
	VMOVUPS Y11, 96(DX)
	ADDQ $128, BX
	JMP  pc32
pc8:
	MOVQ CX, AX
	SUBQ BX, AX
	CMPQ AX, $32
	JLT  pc1
	LEAQ (R11)(BX*1), AX
	LEAQ (AX)(R12*2), DX
	CMPQ acc+72(FP), $0
	JEQ  pz8
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(R12*1), Y4
	VMOVUPS (DX), Y8
	JMP  pl8
pz8:
	VXORPS Y0, Y0, Y0
	VXORPS Y4, Y4, Y4
	VXORPS Y8, Y8, Y8
pl8:
	MOVQ SI, DX
	LEAQ (DI)(BX*1), R14
	MOVQ R13, AX
pl8x:
	TESTQ AX, AX
	JLE  ps8
	VBROADCASTSS (DX), Y12
	PVMUL((R14), Y12, Y13, Y0)
	VBROADCASTSS (DX)(R8*1), Y12
	PVMUL((R14), Y12, Y14, Y4)
	VBROADCASTSS (DX)(R8*2), Y12
	PVMUL((R14), Y12, Y15, Y8)
	ADDQ R9, DX
	ADDQ R10, R14
	DECQ AX
	JMP  pl8x
ps8:
	LEAQ (R11)(BX*1), AX
	LEAQ (AX)(R12*2), DX
	VMOVUPS Y0, (AX)
	VMOVUPS Y4, (AX)(R12*1)
	VMOVUPS Y8, (DX)
	ADDQ $32, BX
	JMP  pc8
pc1:
	CMPQ BX, CX
	JGE  pend
	LEAQ (R11)(BX*1), AX
	LEAQ (AX)(R12*2), DX
	CMPQ acc+72(FP), $0
	JEQ  pz1
	VMOVSS (AX), X0
	VMOVSS (AX)(R12*1), X4
	VMOVSS (DX), X8
	JMP  pl1
pz1:
	VXORPS X0, X0, X0
	VXORPS X4, X4, X4
	VXORPS X8, X8, X8
pl1:
	MOVQ SI, DX
	LEAQ (DI)(BX*1), R14
	MOVQ R13, AX
pl1x:
	TESTQ AX, AX
	JLE  ps1
	VMOVSS (DX), X12
	PVMULS((R14), X12, X13, X0)
	VMOVSS (DX)(R8*1), X12
	PVMULS((R14), X12, X14, X4)
	VMOVSS (DX)(R8*2), X12
	PVMULS((R14), X12, X15, X8)
	ADDQ R9, DX
	ADDQ R10, R14
	DECQ AX
	JMP  pl1x
ps1:
	LEAQ (R11)(BX*1), AX
	LEAQ (AX)(R12*2), DX
	VMOVSS X0, (AX)
	VMOVSS X4, (AX)(R12*1)
	VMOVSS X8, (DX)
	ADDQ $4, BX
	JMP  pc1
pend:
	VZEROUPPER
	RET

// func siluAVX(gate, u, sg, s *float32, n int) int
// The SwiGLU gate four at a time: sg[i] = float32(σ) and
// s[i] = float32(float64(g[i])·σ)·u[i] with σ = sigmoid(float64(g[i]))
// computed as sigmoids does (exp(-|x|) by expAVX's operations, then
// e/(1+e) or 1/(1+e) by the sign). It stops at the first group of four
// whose exp expAVX would hand back (a NaN, or -|x| so small the result is
// denormal) and returns how many elements it wrote.
TEXT ·siluAVX(SB), NOSPLIT, $0-48
	MOVQ gate+0(FP), SI
	MOVQ u+8(FP), R8
	MOVQ sg+16(FP), R9
	MOVQ s+24(FP), R10
	MOVQ n+32(FP), CX
	ANDQ $-4, CX
	XORQ AX, AX
	EXP_SETUP
sloop:
	CMPQ AX, CX
	JGE  sdone
	VCVTPS2PD (SI)(AX*4), Y0
	VORPD negz<>(SB), Y0, Y0 // -|x|
	EXP4(sdone)
	// Y0 = e = exp(-|x|); num = e if x < 0 (sign set) else 1.
	VCVTPS2PD (SI)(AX*4), Y1
	VBLENDVPD Y1, Y0, Y13, Y2
	VADDPD Y0, Y13, Y3
	VDIVPD Y3, Y2, Y4
	VCVTPD2PSY Y4, X5
	VMOVUPS X5, (R9)(AX*4)
	VMULPD Y4, Y1, Y5
	VCVTPD2PSY Y5, X5
	VMULPS (R8)(AX*4), X5, X5
	VMOVUPS X5, (R10)(AX*4)
	ADDQ $4, AX
	JMP  sloop
sdone:
	MOVQ AX, ret+40(FP)
	VZEROUPPER
	RET

DATA negz<>+0(SB)/8, $0x8000000000000000
DATA negz<>+8(SB)/8, $0x8000000000000000
DATA negz<>+16(SB)/8, $0x8000000000000000
DATA negz<>+24(SB)/8, $0x8000000000000000
GLOBL negz<>(SB), RODATA, $32

// func siluBackAVX(gate, sg, u, ds, dg, du *float32, n int)
// The SwiGLU gate's backward for the multiple-of-4 prefix of n, as the
// portable loop computes it: du = ds·float32(g·σ) and
// dg = ds·u·float32(σ·(1+g·(1-σ))), the float64 parts in float64.
TEXT ·siluBackAVX(SB), NOSPLIT, $0-56
	MOVQ gate+0(FP), SI
	MOVQ sg+8(FP), DI
	MOVQ u+16(FP), R8
	MOVQ ds+24(FP), R9
	MOVQ dg+32(FP), R10
	MOVQ du+40(FP), R11
	MOVQ n+48(FP), CX
	ANDQ $-4, CX
	XORQ AX, AX
	VBROADCASTSD expc<>+40(SB), Y15 // 1.0
bsloop:
	CMPQ AX, CX
	JGE  bsdone
	VCVTPS2PD (SI)(AX*4), Y0 // g
	VCVTPS2PD (DI)(AX*4), Y1 // σ
	VMOVUPS (R9)(AX*4), X2   // ds
	VMULPD Y1, Y0, Y3        // g·σ
	VCVTPD2PSY Y3, X3
	VMULPS X3, X2, X3        // ds·float32(g·σ)
	VMOVUPS X3, (R11)(AX*4)
	VSUBPD Y1, Y15, Y4       // 1-σ
	VMULPD Y4, Y0, Y4        // g·(1-σ)
	VADDPD Y4, Y15, Y4       // 1+…
	VMULPD Y4, Y1, Y4        // σ·(…)
	VCVTPD2PSY Y4, X4
	VMULPS (R8)(AX*4), X2, X5 // ds·u
	VMULPS X4, X5, X5
	VMOVUPS X5, (R10)(AX*4)
	ADDQ $4, AX
	JMP  bsloop
bsdone:
	VZEROUPPER
	RET

// func normBackAVX(dx, dy, gain, x *float32, ri, c float64, n int)
// dx[j] += float32(ri·float64(dy[j]·g[j]) - float64(x[j])·c) for the
// multiple-of-4 prefix of n, as rmsnormBack's loop computes it.
TEXT ·normBackAVX(SB), NOSPLIT, $0-56
	MOVQ dx+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ gain+16(FP), R8
	MOVQ x+24(FP), R9
	VBROADCASTSD ri+32(FP), Y6
	VBROADCASTSD c+40(FP), Y7
	MOVQ n+48(FP), CX
	ANDQ $-4, CX
	XORQ AX, AX
nbloop:
	CMPQ AX, CX
	JGE  nbdone
	VMOVUPS (SI)(AX*4), X0
	VMULPS (R8)(AX*4), X0, X0 // dy·g
	VCVTPS2PD X0, Y0
	VMULPD Y0, Y6, Y0         // ri·…
	VCVTPS2PD (R9)(AX*4), Y1
	VMULPD Y7, Y1, Y1         // x·c
	VSUBPD Y1, Y0, Y0
	VCVTPD2PSY Y0, X0
	VADDPS (DI)(AX*4), X0, X0
	VMOVUPS X0, (DI)(AX*4)
	ADDQ $4, AX
	JMP  nbloop
nbdone:
	VZEROUPPER
	RET

// func normGainAVX(dg, dy, x *float32, r float32, n int)
// dg[j] += dy[j]·x[j]·r (two rounded products, then a rounded sum) for the
// multiple-of-8 prefix of n, as rmsnormBack's gain loop computes it.
TEXT ·normGainAVX(SB), NOSPLIT, $0-40
	MOVQ dg+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ x+16(FP), R8
	VBROADCASTSS r+24(FP), Y6
	MOVQ n+32(FP), CX
	ANDQ $-8, CX
	XORQ AX, AX
ngloop:
	CMPQ AX, CX
	JGE  ngdone
	VMOVUPS (SI)(AX*4), Y0
	VMULPS (R8)(AX*4), Y0, Y0
	VMULPS Y6, Y0, Y0
	VADDPS (DI)(AX*4), Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	JMP  ngloop
ngdone:
	VZEROUPPER
	RET
