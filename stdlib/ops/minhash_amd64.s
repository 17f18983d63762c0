#include "textflag.h"

// func minsAVX512(a, b, hashes, sig *uint64, nperm, nhash int)
// sig[i] = min over j < nhash of a[i]·hashes[j] + b[i] (mod 2^64), for
// i < nperm, a multiple of 8; all ones when nhash is 0. 32 permutations
// (four registers of eight lanes) at a time, then eight.
TEXT ·minsAVX512(SB), NOSPLIT, $0-48
	MOVQ a+0(FP), AX
	MOVQ b+8(FP), BX
	MOVQ hashes+16(FP), SI
	MOVQ sig+24(FP), DI
	MOVQ nperm+32(FP), CX
	MOVQ nhash+40(FP), DX

block4:
	CMPQ CX, $32
	JLT  block1
	VMOVDQU64 (AX), Z0
	VMOVDQU64 64(AX), Z1
	VMOVDQU64 128(AX), Z2
	VMOVDQU64 192(AX), Z3
	VMOVDQU64 (BX), Z4
	VMOVDQU64 64(BX), Z5
	VMOVDQU64 128(BX), Z6
	VMOVDQU64 192(BX), Z7
	VPTERNLOGQ $0xff, Z8, Z8, Z8
	VMOVDQA64 Z8, Z9
	VMOVDQA64 Z8, Z10
	VMOVDQA64 Z8, Z11
	MOVQ SI, R8
	MOVQ DX, R9

loop4:
	TESTQ R9, R9
	JEQ   store4
	VPBROADCASTQ (R8), Z12
	VPMULLQ Z12, Z0, Z13
	VPMULLQ Z12, Z1, Z14
	VPMULLQ Z12, Z2, Z15
	VPMULLQ Z12, Z3, Z16
	VPADDQ  Z4, Z13, Z13
	VPADDQ  Z5, Z14, Z14
	VPADDQ  Z6, Z15, Z15
	VPADDQ  Z7, Z16, Z16
	VPMINUQ Z13, Z8, Z8
	VPMINUQ Z14, Z9, Z9
	VPMINUQ Z15, Z10, Z10
	VPMINUQ Z16, Z11, Z11
	ADDQ $8, R8
	DECQ R9
	JMP  loop4

store4:
	VMOVDQU64 Z8, (DI)
	VMOVDQU64 Z9, 64(DI)
	VMOVDQU64 Z10, 128(DI)
	VMOVDQU64 Z11, 192(DI)
	ADDQ $256, AX
	ADDQ $256, BX
	ADDQ $256, DI
	SUBQ $32, CX
	JMP  block4

block1:
	CMPQ CX, $8
	JLT  done
	VMOVDQU64 (AX), Z0
	VMOVDQU64 (BX), Z4
	VPTERNLOGQ $0xff, Z8, Z8, Z8
	MOVQ SI, R8
	MOVQ DX, R9

loop1:
	TESTQ R9, R9
	JEQ   store1
	VPBROADCASTQ (R8), Z12
	VPMULLQ Z12, Z0, Z13
	VPADDQ  Z4, Z13, Z13
	VPMINUQ Z13, Z8, Z8
	ADDQ $8, R8
	DECQ R9
	JMP  loop1

store1:
	VMOVDQU64 Z8, (DI)
	ADDQ $64, AX
	ADDQ $64, BX
	ADDQ $64, DI
	SUBQ $8, CX
	JMP  block1

done:
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
